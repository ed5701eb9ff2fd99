using Posthorn.IntegrationTests.TestKit;

namespace Posthorn.IntegrationTests;

/// <summary>User story: mail leaves the host. Two Posthorn sites on two loopback addresses find each other through
/// MX records on a real DNS server (<see cref="MxSites"/>): mail crosses with STARTTLS, waits in the queue while
/// the destination is down, comes back to the sender as a DSN when the destination refuses it, and bounces at once
/// for a domain that publishes a null MX.</summary>
/// <remarks>Postfix smtp(8), qmgr(8), bounce(8), postqueue(1); RFC 5321 §5.1 (MX), RFC 3207 (STARTTLS),
/// RFC 3464 (DSN), RFC 7505 (null MX).</remarks>
public sealed class OutboundTests(ITestOutputHelper output)
{
    private static readonly string User = TestConfig.User;

    private static async Task<string> SubmitAsync(DaemonProcess site, string from, string to, string token)
    {
        await using var smtp = await site.ConnectAsync();
        await smtp.CommandAsync("EHLO client.example");
        return await smtp.SendMailAsync(from, to, Token.Message($"outbound {token}", $"crossing sites {token}", from: $"<{from}>", to: to));
    }

    private static Task<string> DeliveryLineAsync(DaemonProcess site, string id, string rcpt, string status) =>
        site.WaitForLogAsync(l => l.Contains($"{id}: to=<{rcpt}>", StringComparison.Ordinal) && l.Contains($"status={status}", StringComparison.Ordinal),
            $"{id} to {rcpt} {status}");

    [Fact]
    public async Task Mail_crosses_from_one_site_to_the_other_by_mx_with_starttls_and_both_logs_tell_the_story()
    {
        await using var sites = await MxSites.StartAsync(output);
        string token = Token.New();
        string id = await SubmitAsync(sites.A, MxSites.UserAtA, MxSites.UserAtB, token);

        // Postfix smtp(8): relay=host[addr]:port, ..., status=sent (the remote's reply to the end of data).
        string sent = await DeliveryLineAsync(sites.A, id, MxSites.UserAtB, "sent");
        Assert.Contains("postfix/smtp[", sent);
        Assert.Contains($"relay=mx.{MxSites.DomainB}[{MxSites.AddressB}]:{sites.MxPortB}, ", sent);
        const string queuedAs = "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ";
        Assert.Contains(queuedAs, sent);
        string remoteId = sent[(sent.IndexOf(queuedAs, StringComparison.Ordinal) + queuedAs.Length)..].TrimEnd(')');
        await sites.A.WaitForLogAsync($"Untrusted TLS connection established to mx.{MxSites.DomainB}[{MxSites.AddressB}]:{sites.MxPortB}: TLS");

        // The receiving side: the connection came from A's address (smtp_bind_address), over TLS, under the ID A was told.
        string client = await sites.B.WaitForLogAsync($"{remoteId}: client=");
        Assert.Contains($"[{MxSites.AddressA}]", client);
        string tls = await sites.B.WaitForLogAsync(l => l.Contains("TLS connection established from", StringComparison.Ordinal)
            && l.Contains($"[{MxSites.AddressA}]", StringComparison.Ordinal), "smtpd's TLS line for A");
        Assert.Contains("postfix/smtpd[", tls);
        await sites.B.WaitForLogAsync($"{remoteId}: from=<{MxSites.UserAtA}>");

        var delivered = Assert.Single(await sites.B.WaitForMboxAsync(User, token), m => m.Body.Contains(token, StringComparison.Ordinal));
        // RFC 3848: B's Received: field says the hop was ESMTPS, with the cipher (smtpd_tls_received_header).
        string received = delivered.HeaderValues("Received").First();
        Assert.Contains("with ESMTPS id " + remoteId, received);
        Assert.Contains("(using TLS", received);
        await sites.A.WaitForLogAsync($"{id}: removed");
    }

    [Fact]
    public async Task A_stopped_destination_leaves_mail_deferred_in_mailq_and_postqueue_f_delivers_it_once_back()
    {
        await using var sites = await MxSites.StartAsync(output);
        await sites.B.StopAsync();
        string token = Token.New();
        string id = await SubmitAsync(sites.A, MxSites.UserAtA, MxSites.UserAtB, token);

        string reason = $"connect to mx.{MxSites.DomainB}[{MxSites.AddressB}]:{sites.MxPortB}: Connection refused";
        string deferred = await DeliveryLineAsync(sites.A, id, MxSites.UserAtB, "deferred");
        Assert.Contains($"relay=none, ", deferred);
        Assert.Contains($"dsn=4.4.1, status=deferred ({reason})", deferred);
        // postqueue(1) -p: the message under its ID, with the reason in parentheses above the recipient.
        ToolResult mailq = null!;
        await Wait.UntilAsync(async () => (mailq = await sites.A.RunToolAsync("mailq")).Stdout.Contains($"({reason})", StringComparison.Ordinal),
            DaemonProcess.DeliveryTimeout, "mailq to show the deferral reason", () => mailq?.ToString() ?? "");
        Assert.Contains(id, mailq.Stdout);
        Assert.Contains(MxSites.UserAtA, mailq.Stdout);
        Assert.Contains(MxSites.UserAtB, mailq.Stdout);
        Assert.Contains(" Kbytes in 1 Request.", mailq.Stdout);
        Assert.False(File.Exists(sites.B.MboxOf(User)) && DaemonProcess.ReadAllShared(sites.B.MboxOf(User)).Contains(token, StringComparison.Ordinal));

        await sites.B.StartAsync();
        await MxSites.WaitForMxAsync(sites.B, MxSites.AddressB, sites.MxPortB);
        // minimal_backoff_time (300 s) is far off: only the flush makes qmgr try again now.
        var flush = await sites.A.RunToolAsync("postqueue", "-f");
        Assert.True(flush.ExitCode == 0, flush.ToString());

        string sent = await DeliveryLineAsync(sites.A, id, MxSites.UserAtB, "sent");
        Assert.Contains($"relay=mx.{MxSites.DomainB}[{MxSites.AddressB}]:{sites.MxPortB}, ", sent);
        Assert.Single(await sites.B.WaitForMboxAsync(User, token), m => m.Body.Contains(token, StringComparison.Ordinal));
        await sites.A.WaitForLogAsync($"{id}: removed");
        var empty = await sites.A.RunToolAsync("mailq");
        Assert.Contains("Mail queue is empty", empty.Stdout);
    }

    [Fact]
    public async Task A_550_from_the_destination_returns_a_multipart_report_dsn_to_the_local_sender()
    {
        await using var sites = await MxSites.StartAsync(output);
        string token = Token.New();
        string stranger = $"nosuch{token}@{MxSites.DomainB}";
        string id = await SubmitAsync(sites.A, MxSites.UserAtA, stranger, token);

        string bounced = await DeliveryLineAsync(sites.A, id, stranger, "bounced");
        Assert.Contains($"relay=mx.{MxSites.DomainB}[{MxSites.AddressB}]:{sites.MxPortB}, ", bounced);
        Assert.Contains($"dsn=5.1.1, status=bounced (host mx.{MxSites.DomainB}[{MxSites.AddressB}] said: 550 5.1.1 <{stranger}>", bounced);
        Assert.Contains("(in reply to RCPT TO command)", bounced);
        // B refused it at RCPT: nothing was queued there for the stranger.
        await sites.B.WaitForLogAsync(l => l.Contains("NOQUEUE: reject: RCPT from", StringComparison.Ordinal) && l.Contains(stranger, StringComparison.Ordinal), "B's reject line");

        var notice = Assert.Single(await sites.A.WaitForMboxAsync(User, stranger), m => m.Body.Contains(token, StringComparison.Ordinal));
        Assert.StartsWith("From MAILER-DAEMON ", notice.FromLine);
        Assert.Contains("multipart/report", notice.Header("Content-Type"));
        Assert.Contains("report-type=delivery-status", notice.Header("Content-Type"));
        Assert.Contains($"Final-Recipient: rfc822; {stranger}", notice.Body);
        Assert.Contains("Action: failed", notice.Body);
        Assert.Contains("Status: 5.1.1", notice.Body);
        Assert.Contains($"Remote-MTA: dns; mx.{MxSites.DomainB}", notice.Body);
        Assert.Contains("Diagnostic-Code: smtp; 550 5.1.1", notice.Body);
        await sites.A.WaitForLogAsync($"{id}: removed");
    }

    [Fact]
    public async Task A_null_mx_domain_bounces_at_once_with_5_1_10_and_no_connection()
    {
        await using var sites = await MxSites.StartAsync(output);
        string token = Token.New();
        string rcpt = $"someone@{MxSites.NullMxDomain}";
        string id = await SubmitAsync(sites.A, MxSites.UserAtA, rcpt, token);

        string bounced = await DeliveryLineAsync(sites.A, id, rcpt, "bounced");
        Assert.Contains("relay=none, ", bounced);
        Assert.Contains($"dsn=5.1.10, status=bounced (Domain {MxSites.NullMxDomain} does not accept mail (nullMX))", bounced);
        var notice = Assert.Single(await sites.A.WaitForMboxAsync(User, rcpt), m => m.Body.Contains(token, StringComparison.Ordinal));
        Assert.Contains("Status: 5.1.10", notice.Body);
        await sites.A.WaitForLogAsync($"{id}: removed");

        // At once: never deferred, and smtp(8) connected nowhere for this message.
        var lines = sites.A.MaillogLines().Where(l => l.Contains($"{id}: ", StringComparison.Ordinal)).ToList();
        Assert.DoesNotContain(lines, l => l.Contains("status=deferred", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("connect to", StringComparison.Ordinal));
        Assert.DoesNotContain(sites.A.MaillogLines(), l => l.Contains("TLS connection established to", StringComparison.Ordinal));
    }
}
