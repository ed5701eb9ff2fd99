using System.Text;

namespace Posthorn.IntegrationTests.TestKit;

/// <summary>The Postfix configuration a test runs the daemon with; everything lives inside one temp directory D.</summary>
/// <remarks>
/// main.cf holds the assignment's parameters with every path under D, so the daemon runs the same
/// as root (CI) and as an ordinary user and never touches /var or a real home directory:
/// <code>
/// myhostname = mail.example.test
/// mydomain = example.test
/// myorigin = $mydomain
/// mydestination = $myhostname, localhost.$mydomain, localhost
/// inet_interfaces = loopback-only
/// mynetworks = 127.0.0.0/8
/// queue_directory = D/queue        data_directory = D/data
/// mail_spool_directory = D/mail    maillog_file = D/maillog
/// alias_maps = hash:D/aliases      alias_database = hash:D/aliases
/// mail_owner = (the current user)
/// </code>
/// master.cf: <c>127.0.0.1:PORT inet n - n - - smtpd</c>, optionally a second row with an
/// <c>-o smtpd_banner=…</c> override.
/// </remarks>
public sealed record TestConfig
{
    public const string Myhostname = "mail.example.test";
    public const string Mydomain = "example.test";

    /// <summary>postconf(5)'s default mydestination.</summary>
    public const string DefaultMydestination = "$myhostname, localhost.$mydomain, localhost";

    /// <summary>The common "domain-wide mail server" setting from Postfix's BASIC_CONFIGURATION_README: with
    /// <c>myorigin = $mydomain</c>, unqualified names (alias results, sendmail recipients) become
    /// <c>user@example.test</c>, which is local only when $mydomain is listed here.</summary>
    public const string MydestinationWithMydomain = "$myhostname, localhost.$mydomain, localhost, $mydomain";

    /// <summary>The first line of every main.cf the kit writes; <c>postconf -e</c> must keep it.</summary>
    public const string MainCfComment = "# main.cf written by Posthorn.IntegrationTests";

    public static TestConfig Default { get; } = new();

    /// <summary>The local test recipient: the user running the tests (a real passwd account).</summary>
    public static string User => Environment.UserName;

    public string Mynetworks { get; init; } = "127.0.0.0/8";
    public string Mydestination { get; init; } = DefaultMydestination;

    /// <summary>When true, <c>mail_spool_directory = D/maildir/</c> (trailing slash: Maildir per user, D/maildir/USER/new/).</summary>
    public bool SpoolMaildir { get; init; }

    /// <summary>Extra main.cf parameters; one with the name of a standard line replaces that line's value.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Extra { get; init; } = [];

    /// <summary>When set, master.cf gets a second smtpd row with <c>-o smtpd_banner=</c> this value.</summary>
    public string? SecondListenerBanner { get; init; }

    /// <summary>When set (e.g. "imapd", "pop3d"), master.cf gets a second row running that service.</summary>
    public string? SecondListenerCommand { get; init; }

    internal bool HasSecondListener => SecondListenerBanner is not null || SecondListenerCommand is not null;

    /// <summary>The aliases file; null means <see cref="DefaultAliases"/>.</summary>
    public IReadOnlyList<string>? Aliases { get; init; }

    /// <summary>Run <c>posthorn newaliases</c> before the first start (as an administrator would).</summary>
    public bool CompileAliases { get; init; } = true;

    /// <summary>This config with <paramref name="name"/> = <paramref name="value"/> in main.cf.</summary>
    public TestConfig With(string name, string value) =>
        this with { Extra = [.. Extra.Where(e => e.Key != name), new(name, value)] };

    /// <summary><c>postmaster: root</c>, and <c>root: USER</c> unless the tests run as root
    /// (an alias of root to itself would be a loop, not a redirection).</summary>
    public static IReadOnlyList<string> DefaultAliases()
    {
        var lines = new List<string> { "# aliases written by Posthorn.IntegrationTests", "postmaster: root" };
        if (User != "root") lines.Add($"root: {User}");
        return lines;
    }

    /// <summary>main.cf's parameters in file order, as <c>postconf -n</c> must report them (values unexpanded).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> MainCfEntries(string dir)
    {
        var entries = new List<KeyValuePair<string, string>>
        {
            new("myhostname", Myhostname),
            new("mydomain", Mydomain),
            new("myorigin", "$mydomain"),
            new("mydestination", Mydestination),
            new("inet_interfaces", "loopback-only"),
            new("mynetworks", Mynetworks),
            new("queue_directory", Path.Combine(dir, "queue")),
            new("data_directory", Path.Combine(dir, "data")),
            new("mail_spool_directory", SpoolMaildir ? Path.Combine(dir, "maildir") + "/" : Path.Combine(dir, "mail")),
            new("maillog_file", Path.Combine(dir, "maillog")),
            new("alias_maps", "hash:" + Path.Combine(dir, "aliases")),
            new("alias_database", "hash:" + Path.Combine(dir, "aliases")),
            new("mail_owner", User),
            // Tests never ask the machine's resolver (it is off loopback): DNS goes to a loopback
            // port where nothing answers, so mail for other domains is deferred, as with DNS down.
            new("posthorn_dns_servers", "127.0.0.1:9"),
        };
        foreach (var extra in Extra)
        {
            int i = entries.FindIndex(e => e.Key == extra.Key);
            if (i >= 0) entries[i] = extra;
            else entries.Add(extra);
        }
        return entries;
    }

    public string MainCfText(string dir)
    {
        var sb = new StringBuilder();
        sb.Append(MainCfComment).Append('\n').Append('\n');
        foreach (var (name, value) in MainCfEntries(dir)) sb.Append(name).Append(" = ").Append(value).Append('\n');
        return sb.ToString();
    }

    public string MasterCfText(int port, int? secondPort)
    {
        var sb = new StringBuilder();
        sb.Append("# service type  private unpriv  chroot  wakeup  maxproc command + args\n");
        sb.Append($"127.0.0.1:{port} inet n - n - - smtpd\n");
        if (SecondListenerCommand is not null && secondPort is not null)
        {
            sb.Append($"127.0.0.1:{secondPort} inet n - n - - {SecondListenerCommand}\n");
        }
        else if (SecondListenerBanner is not null && secondPort is not null)
        {
            sb.Append($"127.0.0.1:{secondPort} inet n - n - - smtpd\n");
            sb.Append($"  -o smtpd_banner={SecondListenerBanner}\n");
        }
        return sb.ToString();
    }

    /// <summary>Writes main.cf, master.cf and aliases into <paramref name="dir"/> and creates the directories
    /// main.cf names (queue, data, mail spool). D is made 0755 so a recipient other than the
    /// current user can reach its mailbox when the tests run as root.</summary>
    public void WriteTo(string dir, int port, int? secondPort)
    {
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
        File.WriteAllText(Path.Combine(dir, "main.cf"), MainCfText(dir));
        File.WriteAllText(Path.Combine(dir, "master.cf"), MasterCfText(port, secondPort));
        File.WriteAllText(Path.Combine(dir, "aliases"), string.Join('\n', Aliases ?? DefaultAliases()) + "\n");
        Directory.CreateDirectory(Path.Combine(dir, "queue"));
        Directory.CreateDirectory(Path.Combine(dir, "data"));
        Directory.CreateDirectory(Path.Combine(dir, SpoolMaildir ? "maildir" : "mail"));
    }
}
