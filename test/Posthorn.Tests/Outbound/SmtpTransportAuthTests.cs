using System.Text;
using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Outbound;
using Posthorn.Sasl;
using Xunit;

namespace Posthorn.Tests.Outbound;

/// <summary>smtp(8) SMTP AUTH (RFC 4954) against a scripted server on loopback: the mechanism choice by
/// smtp_sasl_security_options and smtp_sasl_mechanism_filter, the exchanges of PLAIN, LOGIN and SCRAM-SHA-256
/// (checked by Posthorn's own SCRAM server code), and Postfix's deferral on 535 (smtp_sasl_auth_soft_bounce).</summary>
public sealed class SmtpTransportAuthTests
{
    private const string User = "alice";
    private const string Password = "s3cret pw";
    private readonly ListLogSink _sink = new();

    private Task<OutboundDeliveryResult> DeliverAsync(LoopbackSmtpServer server, SmtpClientOptions options)
    {
        var transport = new SmtpTransport(options with { HeloName = "client.test", TlsLevel = SmtpTlsLevel.None },
            new NextHopResolver(new NoDnsResolver(), new HostLookupOptions(), new Random(1)),
            new MailLog(_sink, "postfix", "client.test", TimeProvider.System, 1), TimeProvider.System);
        var bytes = "Subject: auth\n\nhello\n"u8.ToArray();
        var message = new OutboundMessage(new QueueId("ABCDEF123456"), SmtpPath.FromAddress("a@client.test"), bytes.Length, () => new MemoryStream(bytes));
        return transport.DeliverAsync(new NextHop("127.0.0.1", server.Port, SkipMx: true), message, [new OutboundRecipient("b@remote.test")], CancellationToken.None);
    }

    /// <summary>AUTH on, the password map answering for the relay as written ("[127.0.0.1]:port").</summary>
    private static SmtpClientOptions Auth(int port, string password = Password) => new()
    {
        SaslAuthEnable = true,
        SaslPasswordLookup = key => key == $"[127.0.0.1]:{port}" ? $"{User}:{password}" : null,
    };

    /// <summary>A server offering <paramref name="mechanisms"/>; PLAIN and LOGIN are checked against the password.</summary>
    private static Func<string, string?> Offering(string mechanisms)
    {
        int loginStep = 0;
        string? loginUser = null;
        return line =>
        {
            if (line.StartsWith("EHLO", StringComparison.Ordinal)) return $"250-mx.test\r\n250-PIPELINING\r\n250-AUTH {mechanisms}\r\n250 8BITMIME";
            if (line.StartsWith("AUTH PLAIN ", StringComparison.Ordinal))
                return Encoding.UTF8.GetString(Convert.FromBase64String(line[11..])) == $"\0{User}\0{Password}"
                    ? "235 2.7.0 Authentication successful" : "535 5.7.8 Error: authentication failed: authentication failure";
            if (line == "AUTH LOGIN") { loginStep = 1; return "334 VXNlcm5hbWU6"; }
            if (loginStep == 1) { loginStep = 2; loginUser = Encoding.UTF8.GetString(Convert.FromBase64String(line)); return "334 UGFzc3dvcmQ6"; }
            if (loginStep == 2)
            {
                loginStep = 0;
                return loginUser == User && Encoding.UTF8.GetString(Convert.FromBase64String(line)) == Password
                    ? "235 2.7.0 Authentication successful" : "535 5.7.8 Error: authentication failed: authentication failure";
            }
            return LoopbackSmtpServer.DefaultReply(line);
        };
    }

    [Fact]
    public async Task Plain_with_noanonymous_sends_the_mapped_credentials_and_then_the_mail()
    {
        await using var server = new LoopbackSmtpServer(Offering("PLAIN LOGIN"));
        var result = await DeliverAsync(server, Auth(server.Port) with { SaslSecurityOptions = SaslSecurity.NoAnonymous });
        Assert.Equal(DeliveryOutcome.Sent, result.Recipients[0].Outcome);
        Assert.Equal(["EHLO", "AUTH", "MAIL"], server.Commands.Select(LoopbackSmtpServer.Verb).Take(3));
        // The password never reaches the log.
        Assert.DoesNotContain(_sink.Lines, l => l.Contains(Password, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_mechanism_filter_picks_login_and_its_two_steps_carry_user_and_password()
    {
        await using var server = new LoopbackSmtpServer(Offering("PLAIN LOGIN"));
        var result = await DeliverAsync(server, Auth(server.Port) with { SaslSecurityOptions = SaslSecurity.NoAnonymous, SaslMechanismFilter = ["login"] });
        Assert.Equal(DeliveryOutcome.Sent, result.Recipients[0].Outcome);
        Assert.Contains("AUTH LOGIN", server.Commands);
        Assert.DoesNotContain(server.Commands, c => c.StartsWith("AUTH PLAIN", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_535_defers_with_postfix_text_and_a_4_class_status_and_no_mail_is_sent()
    {
        await using var server = new LoopbackSmtpServer(Offering("PLAIN"));
        var result = await DeliverAsync(server, Auth(server.Port, "wrong") with { SaslSecurityOptions = SaslSecurity.NoAnonymous });
        var r = result.Recipients[0];
        Assert.Equal(DeliveryOutcome.Deferred, r.Outcome);
        Assert.Equal("4.7.8", r.Dsn.ToString());
        Assert.Equal($"SASL authentication failed; server 127.0.0.1[127.0.0.1] said: 535 5.7.8 Error: authentication failed: authentication failure", r.Text);
        Assert.DoesNotContain(server.Commands, c => LoopbackSmtpServer.Verb(c) == "MAIL");
    }

    [Fact]
    public async Task With_soft_bounce_off_a_535_bounces()
    {
        await using var server = new LoopbackSmtpServer(Offering("PLAIN"));
        var result = await DeliverAsync(server, Auth(server.Port, "wrong") with { SaslSecurityOptions = SaslSecurity.NoAnonymous, SaslAuthSoftBounce = false });
        Assert.Equal(DeliveryOutcome.Bounced, result.Recipients[0].Outcome);
        Assert.Equal("5.7.8", result.Recipients[0].Dsn.ToString());
    }

    [Fact]
    public async Task The_default_noplaintext_refuses_plain_and_login_and_defers_with_no_mechanism_available()
    {
        await using var server = new LoopbackSmtpServer(Offering("PLAIN LOGIN"));
        var result = await DeliverAsync(server, Auth(server.Port));
        var r = result.Recipients[0];
        Assert.Equal(DeliveryOutcome.Deferred, r.Outcome);
        Assert.Equal("SASL authentication failed; cannot authenticate to server 127.0.0.1[127.0.0.1]: no mechanism available", r.Text);
        Assert.DoesNotContain(server.Commands, c => LoopbackSmtpServer.Verb(c) is "AUTH" or "MAIL");
    }

    [Fact]
    public async Task Without_a_password_map_entry_or_with_auth_disabled_mail_goes_unauthenticated()
    {
        await using var server = new LoopbackSmtpServer(Offering("PLAIN"));
        var none = Auth(server.Port) with { SaslPasswordLookup = _ => null, SaslSecurityOptions = SaslSecurity.NoAnonymous };
        Assert.Equal(DeliveryOutcome.Sent, (await DeliverAsync(server, none)).Recipients[0].Outcome);
        var off = Auth(server.Port) with { SaslAuthEnable = false, SaslSecurityOptions = SaslSecurity.NoAnonymous };
        Assert.Equal(DeliveryOutcome.Sent, (await DeliverAsync(server, off)).Recipients[0].Outcome);
        Assert.DoesNotContain(server.Commands, c => LoopbackSmtpServer.Verb(c) == "AUTH");
    }

    [Fact]
    public async Task Scram_sha_256_is_chosen_under_the_default_options_and_proves_the_password_to_posthorns_scram_server()
    {
        var credentials = ScramCredentials.FromPassword(ScramHash.Sha256, Password, "0123456789abcdef"u8.ToArray());
        ScramServerExchange? exchange = null;
        int step = 0;
        bool serverSaidOk = false;
        await using var server = new LoopbackSmtpServer(line =>
        {
            if (line.StartsWith("EHLO", StringComparison.Ordinal)) return "250-mx.test\r\n250-AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256\r\n250 8BITMIME";
            if (line.StartsWith("AUTH SCRAM-SHA-256 ", StringComparison.Ordinal))
            {
                exchange = new ScramServerExchange(ScramHash.Sha256);
                if (!exchange.TryReadClientFirst(Convert.FromBase64String(line[19..]))) return "535 5.7.8 bad client-first";
                step = 1;
                return "334 " + Convert.ToBase64String(Encoding.UTF8.GetBytes(exchange.ServerFirst(credentials)));
            }
            if (step == 1)
            {
                step = 2;
                return exchange!.TryVerifyClientFinal(Convert.FromBase64String(line), out string serverFinal) && exchange.User == User
                    ? "334 " + Convert.ToBase64String(Encoding.UTF8.GetBytes(serverFinal)) : "535 5.7.8 Error: authentication failed";
            }
            if (step == 2)
            {
                step = 0;
                serverSaidOk = line.Length == 0;
                return serverSaidOk ? "235 2.7.0 Authentication successful" : "501 5.7.0 expected an empty response";
            }
            return LoopbackSmtpServer.DefaultReply(line);
        });
        var result = await DeliverAsync(server, Auth(server.Port));
        Assert.Equal(DeliveryOutcome.Sent, result.Recipients[0].Outcome);
        Assert.True(serverSaidOk);
        Assert.Contains(server.Commands, c => c.StartsWith("AUTH SCRAM-SHA-256 ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_scram_server_that_cannot_prove_the_password_is_not_trusted_even_when_it_says_235()
    {
        await using var server = new LoopbackSmtpServer(line =>
        {
            if (line.StartsWith("EHLO", StringComparison.Ordinal)) return "250-mx.test\r\n250 AUTH SCRAM-SHA-256";
            if (line.StartsWith("AUTH SCRAM-SHA-256 ", StringComparison.Ordinal))
            {
                string first = Encoding.UTF8.GetString(Convert.FromBase64String(line[19..]));
                string nonce = first[(first.IndexOf("r=", StringComparison.Ordinal) + 2)..];
                return "334 " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"r={nonce}server,s=c2FsdHNhbHQ=,i=4096"));
            }
            if (line.StartsWith("Yz1i", StringComparison.Ordinal))   // base64 of "c=b…": the client-final message
                return "334 " + Convert.ToBase64String("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="u8.ToArray());
            return LoopbackSmtpServer.DefaultReply(line);
        });
        var result = await DeliverAsync(server, Auth(server.Port));
        Assert.Equal(DeliveryOutcome.Deferred, result.Recipients[0].Outcome);
        Assert.Contains("SASL authentication failed", result.Recipients[0].Text);
        Assert.Contains("*", server.Commands);
        Assert.DoesNotContain(server.Commands, c => LoopbackSmtpServer.Verb(c) == "MAIL");
    }
}
