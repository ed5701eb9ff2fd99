using Posthorn.Config;
using Posthorn.Fuzz;
using Posthorn.Mail.Delivery;
using Posthorn.Mua;
using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Fuzz;

/// <summary>The CI-sized half of fuzzing: every seed in fuzz/corpus/TARGET/ and every saved crash in
/// fuzz/regressions/TARGET/ goes through the same entry point the SharpFuzz harness uses
/// (<see cref="FuzzTargets.Run"/>), which lets only undocumented exceptions out.</summary>
public sealed class FuzzCorpusTests : IDisposable
{
    private readonly DirectoryInfo _scratch = Directory.CreateTempSubdirectory("posthorn-fuzz-test-");

    public void Dispose() => _scratch.Delete(recursive: true);

    /// <summary>The repository's fuzz/ directory, found upwards from the test binaries.</summary>
    private static string FuzzDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "fuzz", "corpus");
            if (Directory.Exists(candidate)) return Path.GetDirectoryName(candidate)!;
        }
        throw new DirectoryNotFoundException("fuzz/corpus not found above " + AppContext.BaseDirectory);
    }

    /// <summary>(target, path relative to fuzz/) for every corpus and regression file.</summary>
    public static TheoryData<string, string> Inputs()
    {
        string fuzz = FuzzDirectory();
        var data = new TheoryData<string, string>();
        foreach (string kind in (string[])["corpus", "regressions"])
        {
            foreach (string target in FuzzTargets.Names)
            {
                string dir = Path.Combine(fuzz, kind, target);
                if (!Directory.Exists(dir)) continue;
                foreach (string file in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
                    data.Add(target, Path.GetRelativePath(fuzz, file).Replace('\\', '/'));
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Input_RaisesNoUndocumentedException(string target, string file)
    {
        byte[] input = File.ReadAllBytes(Path.Combine(FuzzDirectory(), file));
        new FuzzTargets(_scratch.FullName).Run(target, input);
    }

    [Fact]
    public void EveryTarget_HasSeedsAndEverySeedDirectoryIsATarget()
    {
        string corpus = Path.Combine(FuzzDirectory(), "corpus");
        var dirs = Directory.GetDirectories(corpus).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(FuzzTargets.Names.Order(StringComparer.Ordinal).ToArray(), dirs);
        foreach (string target in FuzzTargets.Names)
            Assert.True(Directory.GetFiles(Path.Combine(corpus, target)).Length >= 1, $"no seed for {target}");
        string regressions = Path.Combine(FuzzDirectory(), "regressions");
        if (Directory.Exists(regressions))
            Assert.All(Directory.GetDirectories(regressions), d => Assert.Contains(Path.GetFileName(d), FuzzTargets.Names));
    }

    [Fact]
    public void QueueFileSeeds_AreWellFormedQueueFiles()
    {
        // Seeds that the reader refuses at the header would leave the record parser unexplored.
        foreach (string file in Directory.GetFiles(Path.Combine(FuzzDirectory(), "corpus", "queue-file")))
        {
            string copy = Path.Combine(_scratch.FullName, Path.GetFileName(file));
            File.Copy(file, copy);
            Assert.NotNull(QueueFile.Read(copy).Envelope.Sender);
        }
    }

    [Fact]
    public void ImapSession_ReachesPastLogin()
    {
        // The session target must log in and reach the store, or the fuzzer only explores the greeting.
        new FuzzTargets(_scratch.FullName).Run("imap-session",
            "a LOGIN {5}\r\nalice secret\r\nb APPEND INBOX {7+}\r\nhello\r\n\r\nc LOGOUT\r\n"u8.ToArray());
        string maildir = Path.Combine(_scratch.FullName, "imap", "alice", "Maildir");
        int messages = Directory.GetFiles(Path.Combine(maildir, "cur")).Length + Directory.GetFiles(Path.Combine(maildir, "new")).Length;
        Assert.Equal(3, messages);
    }

    [Fact]
    public void Run_UnknownTarget_Throws()
    {
        Assert.Throws<ArgumentException>(() => new FuzzTargets(_scratch.FullName).Run("no-such-target", []));
    }

    [Fact]
    public void DocumentedRefusals_AreNotFindings()
    {
        // Each of these inputs makes the API throw its documented exception (ConfigException,
        // QueueFileCorruptException, MimeKit's FormatException); the target must treat that as an answer.
        var targets = new FuzzTargets(_scratch.FullName);
        string config = Directory.CreateDirectory(Path.Combine(_scratch.FullName, "refusal")).FullName;
        File.WriteAllText(Path.Combine(config, "main.cf"), "no equals sign here\n");
        Assert.Throws<ConfigException>(() => ConfigSnapshot.Load(config));
        targets.Run("main-cf", "no equals sign here\n"u8.ToArray());

        Assert.Throws<ConfigException>(() => MasterConfig.Parse("smtp inet n - n\n", "master.cf"));
        targets.Run("master-cf", "smtp inet n - n\n"u8.ToArray());

        string queueFile = Path.Combine(config, "queuefile");
        File.WriteAllText(queueFile, "PHQ1 garbage");
        Assert.Throws<QueueFileCorruptException>(() => QueueFile.Read(queueFile));
        targets.Run("queue-file", "PHQ1 garbage"u8.ToArray());

        string mbox = Path.Combine(config, "mbox");
        File.WriteAllText(mbox, "not an mbox\n");
        Assert.Throws<FormatException>(() => MboxMailbox.Open(mbox, new MboxFile.Locking(1, TimeSpan.Zero, TimeSpan.Zero, TimeProvider.System, default)));
        targets.Run("mbox", "not an mbox\n"u8.ToArray());
    }
}
