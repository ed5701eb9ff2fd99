namespace Posthorn.IntegrationTests.TestKit;

/// <summary>The daemon's files as the tests look at them: maillog, mailboxes, queue.</summary>
public sealed partial class DaemonProcess
{
    public static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The queue subdirectories that hold messages (Postfix's names).</summary>
    public static readonly IReadOnlyList<string> MessageQueues = ["maildrop", "incoming", "active", "deferred", "hold", "corrupt"];

    public string QueueDirectory => Path.Combine(ConfigDir, "queue");
    public string MaillogPath => Path.Combine(ConfigDir, "maillog");
    public string MainCfPath => Path.Combine(ConfigDir, "main.cf");
    public string AliasesPath => Path.Combine(ConfigDir, "aliases");

    /// <summary>The mbox file of <paramref name="user"/>: D/mail/USER.</summary>
    public string MboxOf(string user) => Path.Combine(ConfigDir, "mail", user);

    /// <summary>The Maildir of <paramref name="user"/> with <see cref="TestConfig.SpoolMaildir"/>: D/maildir/USER/.</summary>
    public string MaildirOf(string user) => Path.Combine(ConfigDir, "maildir", user);

    /// <summary>The whole maillog, or "" before the daemon wrote any.</summary>
    public string ReadMaillog() => ReadAllShared(MaillogPath);

    /// <summary>Complete maillog lines (a line still being written is left out).</summary>
    public IReadOnlyList<string> MaillogLines()
    {
        string text = ReadMaillog();
        int end = text.LastIndexOf('\n');
        return end < 0 ? [] : text[..end].Split('\n');
    }

    /// <summary>Waits for a maillog line that satisfies <paramref name="match"/> and returns it.</summary>
    public Task<string> WaitForLogAsync(Func<string, bool> match, string what, TimeSpan? timeout = null) =>
        Wait.ForAsync(() => MaillogLines().FirstOrDefault(match), timeout ?? DeliveryTimeout, $"a maillog line with {what}", Diagnostics);

    public Task<string> WaitForLogAsync(string contains, TimeSpan? timeout = null) =>
        WaitForLogAsync(l => l.Contains(contains, StringComparison.Ordinal), $"\"{contains}\"", timeout);

    /// <summary>Waits until <paramref name="user"/>'s mbox holds a complete message containing <paramref name="token"/>
    /// (local(8) ends each message with an empty line) and returns all of its messages.</summary>
    public async Task<IReadOnlyList<StoredMessage>> WaitForMboxAsync(string user, string token)
    {
        string path = MboxOf(user);
        await Wait.UntilAsync(() =>
        {
            string text = ReadAllShared(path);
            return text.Contains(token, StringComparison.Ordinal) && text.EndsWith("\n\n", StringComparison.Ordinal);
        }, DeliveryTimeout, $"a message containing \"{token}\" in {path}", Diagnostics);
        return Mbox.Parse(ReadAllShared(path));
    }

    /// <summary>Waits until a file in <paramref name="user"/>'s Maildir new/ contains <paramref name="token"/>; returns its path.</summary>
    public Task<string> WaitForMaildirAsync(string user, string token)
    {
        string newDir = Path.Combine(MaildirOf(user), "new");
        return Wait.ForAsync(() => Directory.Exists(newDir)
                ? Directory.EnumerateFiles(newDir).FirstOrDefault(f => ReadAllShared(f).Contains(token, StringComparison.Ordinal))
                : null,
            DeliveryTimeout, $"a message containing \"{token}\" in {newDir}", Diagnostics);
    }

    /// <summary>Every file in the message queues (maildrop, incoming, active, deferred, hold, corrupt), recursively.</summary>
    public IReadOnlyList<string> QueueFiles() =>
        MessageQueues.Select(q => Path.Combine(QueueDirectory, q)).Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories)).ToList();

    public static string ReadAllShared(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return "";
        }
    }
}
