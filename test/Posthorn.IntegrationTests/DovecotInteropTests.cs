using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: the administrator keeps mailboxes in Dovecot and has Posthorn hand local mail to it over
/// LMTP, as with Postfix's <c>mailbox_transport = lmtp:…</c>: the message lands in Dovecot's Maildir, and both logs
/// say so.</summary>
/// <remarks>Postfix local(8) mailbox_transport, lmtp(8); RFC 2033. Needs Dovecot (dovecot-core, dovecot-lmtpd;
/// .ci/run installs them); without it the tests write <c>NOT RUN: reason</c> and pass.</remarks>
public sealed class DovecotInteropTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;
    private static readonly string LocalRcpt = $"{User}@{TestConfig.Myhostname}";

    private bool NotRun()
    {
        if (DovecotInstance.WhyNotAvailable() is not { } why) return false;
        output.WriteLine("NOT RUN: " + why);
        return true;
    }

    private async Task<(string Id, string Token)> SendAsync(DaemonProcess d)
    {
        string token = Token.New();
        await using var smtp = await d.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        string id = await smtp.SendMailAsync("alice@sender.example", LocalRcpt, Token.Message($"to dovecot {token}", $"posthorn to dovecot {token}", to: LocalRcpt));
        return (id, token);
    }

    [Fact]
    public async Task Mailbox_transport_lmtp_inet_delivers_into_dovecots_maildir()
    {
        if (NotRun()) return;
        await using var dovecot = await DovecotInstance.StartAsync(output);
        var cfg = TestConfig.Default.With("mailbox_transport", $"lmtp:inet:127.0.0.1:{dovecot.Port}");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        var (id, token) = await SendAsync(d);

        // Postfix lmtp(8): relay=host[addr]:port and Dovecot's own "<rcpt> ID Saved" reply.
        string line = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<{LocalRcpt}>", StringComparison.Ordinal) && l.Contains("status=", StringComparison.Ordinal), $"{id} lmtp");
        Assert.Contains("postfix/lmtp[", line);
        Assert.Contains($"relay=127.0.0.1[127.0.0.1]:{dovecot.Port}, ", line);
        Assert.Contains($"dsn=2.0.0, status=sent (250 2.0.0 <{LocalRcpt}> ", line);
        Assert.EndsWith(" Saved)", line);

        string stored = await dovecot.WaitForMaildirAsync(User, token);
        Assert.Contains($"Subject: to dovecot {token}", stored);
        // Dovecot's LMTP adds Return-Path from MAIL FROM and logs the save under the user it looked up.
        Assert.StartsWith("Return-Path: <alice@sender.example>", stored);
        await dovecot.WaitForLogAsync($"lmtp({User})");
        await dovecot.WaitForLogAsync("saved mail to INBOX");
        Assert.False(File.Exists(d.MboxOf(User)) && DaemonProcess.ReadAllShared(d.MboxOf(User)).Contains(token, StringComparison.Ordinal),
            "the message went to the local mbox instead of (or as well as) Dovecot");
    }

    [Fact]
    public async Task Mailbox_transport_lmtp_unix_socket_delivers_into_dovecots_maildir()
    {
        if (NotRun()) return;
        await using var dovecot = await DovecotInstance.StartAsync(output);
        var cfg = TestConfig.Default.With("mailbox_transport", $"lmtp:unix:{dovecot.SocketPath}");
        await using var d = await DaemonProcess.StartAsync(cfg, output);
        var (id, token) = await SendAsync(d);

        string line = await d.WaitForLogAsync(l => l.Contains($"{id}: to=<{LocalRcpt}>", StringComparison.Ordinal) && l.Contains("status=", StringComparison.Ordinal), $"{id} lmtp");
        Assert.Contains("postfix/lmtp[", line);
        // Postfix lmtp(8) names a socket peer as host[path].
        Assert.Contains($"[{dovecot.SocketPath}]", line);
        Assert.Contains($"dsn=2.0.0, status=sent (250 2.0.0 <{LocalRcpt}> ", line);
        Assert.Contains($"Subject: to dovecot {token}", await dovecot.WaitForMaildirAsync(User, token));
    }
}
