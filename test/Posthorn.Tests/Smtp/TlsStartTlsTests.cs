using Xunit;
using System.Security.Authentication;
using Posthorn.Smtp;

namespace Posthorn.Tests.Smtp;

/// <summary>STARTTLS (RFC 3207), smtpd_tls_security_level, smtpd_tls_wrappermode, TLS logging and the
/// Received: header, over a real loopback connection with a client-side SslStream.</summary>
public class TlsStartTlsTests
{
    private const string LogPrefix = "postfix/smtpd[4242]: ";

    [Fact]
    public async Task Starttls_is_offered_at_level_may_and_not_again_after_the_handshake()
    {
        await using var s = await LoopbackSmtp.StartAsync(LoopbackSmtp.TlsOptions);
        Assert.Contains("250-STARTTLS", await s.CommandAsync("EHLO client.example"));
        Assert.Equal("220 2.0.0 Ready to start TLS", await s.CommandAsync("STARTTLS"));
        await s.StartClientTlsAsync();
        var ehlo = await s.CommandAsync("EHLO client.example");
        Assert.StartsWith("250-mail.example.test", ehlo);
        Assert.DoesNotContain("STARTTLS", ehlo);
        Assert.Equal("554 5.5.1 Error: TLS already active", await s.CommandAsync("STARTTLS"));
        Assert.Equal("221 2.0.0 Bye", await s.CommandAsync("QUIT"));
        await s.FinishAsync();
        Assert.Contains(LogPrefix + "disconnect from localhost[127.0.0.1] ehlo=2 starttls=1/2 quit=1 commands=4/5", s.Log);
    }

    [Fact]
    public async Task Tls_connection_is_logged_as_postfix_does_at_loglevel_1()
    {
        await using var s = await LoopbackSmtp.StartAsync(LoopbackSmtp.TlsOptions);
        Assert.Equal("220 2.0.0 Ready to start TLS", await s.CommandAsync("STARTTLS"));
        await s.StartClientTlsAsync();
        Assert.Equal("250 2.0.0 Ok", await s.CommandAsync("NOOP"));
        string protocol = s.Tls!.SslProtocol == SslProtocols.Tls13 ? "TLSv1.3" : "TLSv1.2";
        string cipher = s.Tls.NegotiatedCipherSuite.ToString();
        int bits = cipher.Contains("AES_128") ? 128 : 256;
        Assert.Contains(LogPrefix + $"Anonymous TLS connection established from localhost[127.0.0.1]: {protocol} with cipher {cipher} ({bits}/{bits} bits)", s.Log);
    }

    [Fact]
    public async Task Tls_loglevel_0_logs_no_tls_line()
    {
        await using var s = await LoopbackSmtp.StartAsync(LoopbackSmtp.TlsOptions with { TlsLogLevel = 0 });
        Assert.Equal("220 2.0.0 Ready to start TLS", await s.CommandAsync("STARTTLS"));
        await s.StartClientTlsAsync();
        Assert.Equal("250 2.0.0 Ok", await s.CommandAsync("NOOP"));
        Assert.DoesNotContain(s.Log, l => l.Contains("TLS connection established"));
    }

    /// <summary>RFC 3207 §4.2, CVE-2011-0411: a command pipelined after STARTTLS in the same packet was
    /// sent in plain text and must be thrown away, never answered inside the TLS session.</summary>
    [Fact]
    public async Task Commands_pipelined_after_starttls_are_discarded_not_answered()
    {
        await using var s = await LoopbackSmtp.StartAsync(LoopbackSmtp.TlsOptions);
        Assert.StartsWith("250-", await s.CommandAsync("EHLO client.example"));
        await s.SendAsync("STARTTLS\r\nRSET\r\n");
        Assert.Equal("220 2.0.0 Ready to start TLS", await s.ReadReplyAsync());
        await s.StartClientTlsAsync();
        // Had RSET been kept, its "250 2.0.0 Ok" would come first.
        Assert.StartsWith("250-mail.example.test\n250-PIPELINING", await s.CommandAsync("EHLO client.example"));
        Assert.Equal("221 2.0.0 Bye", await s.CommandAsync("QUIT"));
        await s.FinishAsync();
        Assert.Contains(LogPrefix + "disconnect from localhost[127.0.0.1] ehlo=2 starttls=1 quit=1 commands=4", s.Log);
    }

    [Fact]
    public async Task Starttls_forgets_helo_and_the_client_must_say_ehlo_again()
    {
        await using var s = await LoopbackSmtp.StartAsync(LoopbackSmtp.TlsOptions with { HeloRequired = true });
        Assert.StartsWith("250-", await s.CommandAsync("EHLO client.example"));
        Assert.Equal("220 2.0.0 Ready to start TLS", await s.CommandAsync("STARTTLS"));
        await s.StartClientTlsAsync();
        Assert.Equal("503 5.5.1 Error: send HELO/EHLO first", await s.CommandAsync("MAIL FROM:<a@example.com>"));
    }

    [Fact]
    public async Task Starttls_inside_a_transaction_is_refused()
    {
        await using var s = await LoopbackSmtp.StartAsync(LoopbackSmtp.TlsOptions);
        await s.CommandAsync("EHLO client.example");
        Assert.Equal("250 2.1.0 Ok", await s.CommandAsync("MAIL FROM:<a@example.com>"));
        Assert.Equal("503 5.5.1 Error: MAIL transaction in progress", await s.CommandAsync("STARTTLS"));
        Assert.Equal("501 5.5.4 Syntax: STARTTLS", await s.CommandAsync("STARTTLS now"));
    }

    [Fact]
    public async Task Level_none_neither_offers_nor_accepts_starttls()
    {
        await using var s = await LoopbackSmtp.StartAsync(LoopbackSmtp.TlsOptions with { TlsSecurityLevel = SmtpTlsSecurityLevel.None });
        Assert.DoesNotContain("STARTTLS", await s.CommandAsync("EHLO client.example"));
        Assert.Equal("502 5.5.1 Error: command not implemented", await s.CommandAsync("STARTTLS"));
    }

    [Fact]
    public async Task Level_may_without_a_certificate_says_tls_not_available()
    {
        await using var s = await LoopbackSmtp.StartAsync(LoopbackSmtp.TlsOptions with { TlsCertificate = null });
        Assert.Equal("454 4.7.0 TLS not available due to local problem", await s.CommandAsync("STARTTLS"));
    }

    [Fact]
    public async Task Level_encrypt_refuses_mail_and_rset_before_starttls_but_allows_ehlo_noop_quit()
    {
        var options = LoopbackSmtp.TlsOptions with { TlsSecurityLevel = SmtpTlsSecurityLevel.Encrypt };
        await using var s = await LoopbackSmtp.StartAsync(options);
        Assert.Contains("250-STARTTLS", await s.CommandAsync("EHLO client.example"));
        Assert.Equal("530 5.7.0 Must issue a STARTTLS command first", await s.CommandAsync("MAIL FROM:<a@example.com>"));
        Assert.Equal("530 5.7.0 Must issue a STARTTLS command first", await s.CommandAsync("RSET"));
        Assert.Equal("530 5.7.0 Must issue a STARTTLS command first", await s.CommandAsync("VRFY a@example.com"));
        Assert.Equal("250 2.0.0 Ok", await s.CommandAsync("NOOP"));
        Assert.Equal("220 2.0.0 Ready to start TLS", await s.CommandAsync("STARTTLS"));
        await s.StartClientTlsAsync();
        await s.CommandAsync("EHLO client.example");
        Assert.Equal("250 2.1.0 Ok", await s.CommandAsync("MAIL FROM:<a@example.com>"));
        Assert.Equal("221 2.0.0 Bye", await s.CommandAsync("QUIT"));
    }

    [Fact]
    public async Task Received_header_records_tls_and_esmtps_with_smtpd_tls_received_header()
    {
        await using var s = await LoopbackSmtp.StartAsync(LoopbackSmtp.TlsOptions with { TlsReceivedHeader = true });
        Assert.Equal("220 2.0.0 Ready to start TLS", await s.CommandAsync("STARTTLS"));
        await s.StartClientTlsAsync();
        await s.CommandAsync("EHLO client.example");
        await s.CommandAsync("MAIL FROM:<a@example.com>");
        await s.CommandAsync("RCPT TO:<b@example.com>");
        Assert.Equal("354 End data with <CR><LF>.<CR><LF>", await s.CommandAsync("DATA"));
        Assert.StartsWith("250 2.0.0 Ok: queued as", await s.CommandAsync("Subject: t\r\n\r\nhi\r\n."));
        string protocol = s.Tls!.SslProtocol == SslProtocols.Tls13 ? "TLSv1.3" : "TLSv1.2";
        string cipher = s.Tls.NegotiatedCipherSuite.ToString();
        int bits = cipher.Contains("AES_128") ? 128 : 256;
        Assert.StartsWith(
            "Received: from client.example (localhost [127.0.0.1])\n" +
            $"\t(using {protocol} with cipher {cipher} ({bits}/{bits} bits))\n" +
            "\t(No client certificate requested)\n" +
            "\tby mail.example.test (Posthorn) with ESMTPS id ", s.Sink.Writers[0].Content);
    }

    [Fact]
    public async Task Received_header_has_no_tls_lines_by_default_but_says_esmtps()
    {
        await using var s = await LoopbackSmtp.StartAsync(LoopbackSmtp.TlsOptions);
        Assert.Equal("220 2.0.0 Ready to start TLS", await s.CommandAsync("STARTTLS"));
        await s.StartClientTlsAsync();
        await s.CommandAsync("EHLO client.example");
        await s.CommandAsync("MAIL FROM:<a@example.com>");
        await s.CommandAsync("RCPT TO:<b@example.com>");
        await s.CommandAsync("DATA");
        Assert.StartsWith("250 2.0.0 Ok", await s.CommandAsync("Subject: t\r\n\r\nhi\r\n."));
        Assert.StartsWith("Received: from client.example (localhost [127.0.0.1])\n\tby mail.example.test (Posthorn) with ESMTPS id ",
            s.Sink.Writers[0].Content);
    }

    [Fact]
    public async Task Wrapper_mode_speaks_tls_from_the_first_byte()
    {
        await using var s = await LoopbackSmtp.StartAsync(LoopbackSmtp.TlsOptions with { TlsWrapperMode = true }, readGreeting: false);
        await s.StartClientTlsAsync();
        Assert.Equal("220 mail.example.test ESMTP Posthorn", await s.ReadReplyAsync());
        var ehlo = await s.CommandAsync("EHLO client.example");
        Assert.DoesNotContain("STARTTLS", ehlo);
        Assert.Equal("221 2.0.0 Bye", await s.CommandAsync("QUIT"));
        await s.FinishAsync();
        Assert.Contains(s.Log, l => l.StartsWith(LogPrefix + "Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1."));
    }

    [Fact]
    public async Task Wrapper_mode_drops_a_plain_text_client_and_logs_the_handshake_failure()
    {
        await using var s = await LoopbackSmtp.StartAsync(LoopbackSmtp.TlsOptions with { TlsWrapperMode = true }, readGreeting: false);
        await s.SendAsync("EHLO client.example\r\n");
        Assert.True(await s.ServerClosedAsync());
        await s.FinishAsync();
        Assert.Contains(s.Log, l => l.StartsWith(LogPrefix + "SSL_accept error from localhost[127.0.0.1]: "));
        Assert.Contains(LogPrefix + "lost connection after CONNECT from localhost[127.0.0.1]", s.Log);
    }

    [Fact]
    public async Task Plain_text_after_starttls_fails_the_handshake_and_ends_the_session()
    {
        await using var s = await LoopbackSmtp.StartAsync(LoopbackSmtp.TlsOptions);
        Assert.Equal("220 2.0.0 Ready to start TLS", await s.CommandAsync("STARTTLS"));
        await s.SendAsync("MAIL FROM:<a@example.com>\r\n");
        Assert.True(await s.ServerClosedAsync());
        await s.FinishAsync();
        Assert.Contains(s.Log, l => l.StartsWith(LogPrefix + "SSL_accept error from localhost[127.0.0.1]: "));
        Assert.Contains(LogPrefix + "lost connection after STARTTLS from localhost[127.0.0.1]", s.Log);
    }

    [Theory]
    [InlineData("!SSLv2, !SSLv3", SslProtocols.None)]
    [InlineData(">=TLSv1.2", SslProtocols.None)]
    [InlineData(">=TLSv1.3", SslProtocols.Tls13)]
    [InlineData("!SSLv2:!SSLv3:!TLSv1:!TLSv1.1:!TLSv1.3", SslProtocols.Tls12)]
    [InlineData("TLSv1.2", SslProtocols.Tls12)]
    [InlineData("TLSv1.2 TLSv1.3", SslProtocols.None)]
    [InlineData("<=TLSv1.2", SslProtocols.Tls12)]
    [InlineData("", SslProtocols.None)]
    public void Tls_protocol_lists_map_to_the_platform_flags(string value, SslProtocols expected)
    {
        Assert.True(TlsProtocolList.TryParse(value, out var protocols));
        Assert.Equal(expected, protocols);
    }

    [Theory]
    [InlineData("TLSv9")]
    [InlineData("TLSv1.1")]
    [InlineData("<=TLSv1.1")]
    [InlineData("!TLSv1.2, !TLSv1.3")]
    public void Tls_protocol_lists_without_a_usable_protocol_are_refused(string value) =>
        Assert.False(TlsProtocolList.TryParse(value, out _));
}
