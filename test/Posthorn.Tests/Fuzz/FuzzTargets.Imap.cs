using System.Net;
using Posthorn.Daemon.Master;
using Posthorn.Imap;
using Posthorn.Logging;
using Posthorn.Mail.Auth;
using Posthorn.Store.Maildir;

namespace Posthorn.Fuzz;

/// <summary>The imapd session engine, fed the fuzz input as everything one client sends.</summary>
public sealed partial class FuzzTargets
{
    /// <summary>Runs one whole <see cref="ImapServerSession"/> over a fresh Maildir of user "alice" (password
    /// "secret") holding two messages: the input is the client's byte stream (literals are assembled by the
    /// session, so this is where <c>{n}</c> / <c>{n+}</c> handling is fuzzed), then end of input. The session
    /// answers bad input with BAD/NO and ends on I/O errors; any exception out of
    /// <see cref="ImapServerSession.RunAsync"/> is a finding.</summary>
    private void ImapSession(byte[] data)
    {
        string root = Path.Combine(Scratch, "imap");
        string home = Path.Combine(root, "alice");
        string maildir = Path.Combine(home, "Maildir");
        if (Directory.Exists(home)) Directory.Delete(home, recursive: true);
        foreach (string d in (string[])["tmp", "new", "cur"]) Directory.CreateDirectory(Path.Combine(maildir, d));
        File.WriteAllText(Path.Combine(maildir, "cur", "1700000000.M1P1Q1.fuzz:2,S"),
            "From: Bob <bob@example.test>\nTo: alice@example.test\nSubject: one\nDate: Mon, 13 Nov 2023 10:00:00 +0000\n"
            + "Message-ID: <1@example.test>\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nHello\n--b--\n");
        File.WriteAllText(Path.Combine(maildir, "new", "1700000001.M2P1Q1.fuzz"),
            "From: carol@example.test\nSubject: =?UTF-8?Q?two?=\nIn-Reply-To: <1@example.test>\n\nSecond.\n");
        string passwd = Path.Combine(root, "passwd");
        File.WriteAllText(passwd, $"alice:{{PLAIN}}secret:1000:1000::{home}::\n");
        var options = new ImapSessionOptions
        {
            RemoteEndPoint = new IPEndPoint(IPAddress.Loopback, 40143),
            LocalEndPoint = new IPEndPoint(IPAddress.Loopback, 143),
            DisablePlaintextAuth = false,
            AuthFailureDelay = TimeSpan.Zero,
            MaxLiteralSize = 65536,
            MaxLineLength = 4096,
            SessionId = "fuzz",
        };
        var users = new UserDatabaseImapResolver(new PasswdFile(passwd), "Maildir/");
        var store = new MaildirStore(TimeProvider.System, "fuzz.example", 4242);
        var log = new MailLog(new MemoryLogSink(), "postfix", "mail.example.test", TimeProvider.System, 4242);
        new ImapServerSession(new FuzzConnection(data), options, store, users, log, TimeProvider.System)
            .RunAsync(CancellationToken.None).GetAwaiter().GetResult();
    }
}
