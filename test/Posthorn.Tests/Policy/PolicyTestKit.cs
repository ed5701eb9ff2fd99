using System.Net;
using Posthorn.Config;
using Posthorn.Config.Tables;
using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Daemon.Policy;
using Posthorn.Logging;
using Posthorn.Mail.Outbound;
using Posthorn.Smtp;
using Posthorn.Tests.Outbound;

namespace Posthorn.Tests.Policy;

/// <summary>A configuration directory with main.cf and real lookup tables, and an evaluator over it.</summary>
internal sealed class PolicyHarness : IDisposable
{
    private const string BaseMainCf = """
        myhostname = mail.example.test
        mydestination = example.test, localhost
        mynetworks = 127.0.0.0/8
        """;

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-policy-");

    public ListLogSink LogSink { get; } = new();
    public MailLog Log { get; }

    public PolicyHarness() => Log = new MailLog(LogSink, "postfix", "mail.example.test", TimeProvider.System, pid: 77);

    public void Dispose() => _dir.Delete(recursive: true);

    public string Dir => _dir.FullName;

    /// <summary>Writes <paramref name="name"/> and compiles it as postmap does; returns <c>hash:path</c>.</summary>
    public string Hash(string name, string text)
    {
        string path = Write(name, text);
        HashFile.Write(path + ".db", TableSource.Parse(text, path, fold: true, warn: null), folded: true, path);
        return "hash:" + path;
    }

    public string Cidr(string name, string text) => "cidr:" + Write(name, text);

    public string Regexp(string name, string text) => "regexp:" + Write(name, text);

    private string Write(string name, string text)
    {
        string path = Path.Combine(Dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Settings from a main.cf of the base lines plus <paramref name="mainCf"/> (later lines win).</summary>
    public Settings Configure(string mainCf)
    {
        File.WriteAllText(Path.Combine(Dir, "main.cf"), BaseMainCf + "\n" + mainCf + "\n");
        File.WriteAllText(Path.Combine(Dir, "master.cf"), "smtp inet n - n - - smtpd\n");
        return Settings.From(ConfigSnapshot.Load(Dir), MailLog.Discard);
    }

    public RestrictionEvaluator Evaluator(Settings s, IDnsResolver? dns = null, Func<string, bool>? isLocal = null) =>
        new(s, s.Restrictions, dns, Log, isLocal ?? (user => user != "nobody"));

    public static SmtpSessionInfo Session(string address = "192.0.2.7", string name = "client.example",
        string? helo = "client.example", string? saslUser = null) => new()
    {
        Client = new IPEndPoint(IPAddress.Parse(address), 40000),
        ClientName = name,
        HeloName = helo,
        Protocol = "ESMTP",
        SaslMethod = saslUser is null ? null : "PLAIN",
        SaslUsername = saslUser,
    };

    /// <summary>The RCPT decision for <paramref name="mainCf"/>: the reply as one line, or null when accepted.</summary>
    public async Task<string?> RcptAsync(string mainCf, string rcpt = "user@example.test", string sender = "someone@sender.example",
        SmtpSessionInfo? session = null, IDnsResolver? dns = null)
    {
        var decision = await DecideAsync(mainCf, rcpt, sender, session, dns);
        return decision.Reply?.ToString();
    }

    public async Task<PolicyDecision> DecideAsync(string mainCf, string rcpt = "user@example.test", string sender = "someone@sender.example",
        SmtpSessionInfo? session = null, IDnsResolver? dns = null)
    {
        var s = Configure(mainCf);
        var request = new PolicyRequest(session ?? Session(), sender.Length == 0 ? SmtpPath.Null : SmtpPath.FromAddress(sender),
            SmtpPath.FromAddress(rcpt), "RCPT");
        return await Evaluator(s, dns).CheckRecipientAsync(request, CancellationToken.None);
    }

    public IReadOnlyList<string> Lines
    {
        get { lock (LogSink.Lines) return [.. LogSink.Lines]; }
    }
}
