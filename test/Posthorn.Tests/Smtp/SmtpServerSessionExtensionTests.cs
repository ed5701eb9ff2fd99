using Xunit;
using Posthorn.Smtp;

namespace Posthorn.Tests.Smtp;

/// <summary>SMTPUTF8 (RFC 6531) and the DSN parameters (RFC 3461) as smtpd parses and carries them.</summary>
public class SmtpServerSessionExtensionTests
{
    private static async Task<SmtpHarness> EhloAsync(SmtpServerOptions? options = null)
    {
        var h = await SmtpHarness.StartAsync(options);
        await h.CommandAsync("EHLO client.example");
        return h;
    }

    [Fact]
    public async Task Unicode_addresses_need_the_smtputf8_declaration()
    {
        await using var h = await EhloAsync();
        Assert.Equal("553 5.6.7 Must declare SMTPUTF8 to send unicode address", await h.CommandAsync("MAIL FROM:<jörg@example.com>"));
        Assert.Equal("250 2.1.0 Ok", await h.CommandAsync("MAIL FROM:<alice@example.com>"));
        Assert.Equal("553 5.6.7 Must declare SMTPUTF8 to send unicode address", await h.CommandAsync("RCPT TO:<用户@例子.测试>"));
        Assert.Equal("250 2.0.0 Ok", await h.CommandAsync("RSET"));
        Assert.Equal("250 2.1.0 Ok", await h.CommandAsync("MAIL FROM:<jörg@example.com> SMTPUTF8"));
        Assert.Equal("250 2.1.5 Ok", await h.CommandAsync("RCPT TO:<用户@例子.测试>"));
        Assert.Equal("354 End data with <CR><LF>.<CR><LF>", await h.CommandAsync("DATA"));
        await h.SendAsync("Subject: grüße\r\n\r\nhi\r\n.\r\n");
        Assert.Equal("250 2.0.0 Ok: queued as 4D2C1B0A00", await h.ReadReplyAsync());
        // RFC 6531 §3.7.4.2: the Received: header says UTF8SMTP.
        var content = Assert.Single(h.Sink.Writers).Content;
        Assert.Contains("(Posthorn) with UTF8SMTP id 4D2C1B0A00\n\tfor <用户@例子.测试>;", content);
        Assert.Contains("Subject: grüße\n", content);
    }

    [Fact]
    public async Task A_command_that_is_not_utf8_is_refused_and_without_smtputf8_enable_passes()
    {
        byte[] latin1 = [.. "MAIL FROM:<j"u8, 0xF6, .. "rg@example.com>\r\n"u8];
        await using (var h = await EhloAsync())
        {
            await h.SendAsync(latin1);
            Assert.Equal("500 5.5.2 Error: bad UTF-8 syntax", await h.ReadReplyAsync());
        }
        var off = SmtpHarness.DefaultOptions with { SmtpUtf8Enable = false };
        await using var o = await SmtpHarness.StartAsync(off);
        Assert.DoesNotContain("SMTPUTF8", await o.CommandAsync("EHLO c"));
        // Postfix with smtputf8_enable = no is 8-bit clean, and SMTPUTF8 is an unknown option.
        await o.SendAsync(latin1);
        Assert.Equal("250 2.1.0 Ok", await o.ReadReplyAsync());
        Assert.Equal("250 2.0.0 Ok", await o.CommandAsync("RSET"));
        Assert.Equal("555 5.5.4 Unsupported option: SMTPUTF8", await o.CommandAsync("MAIL FROM:<a@example.com> SMTPUTF8"));
    }

    [Fact]
    public async Task Dsn_parameters_are_carried_in_the_transaction()
    {
        await using var h = await EhloAsync();
        Assert.Equal("250 2.1.0 Ok", await h.CommandAsync("MAIL FROM:<alice@example.com> RET=HDRS ENVID=QQ+2B314"));
        Assert.Equal("250 2.1.5 Ok", await h.CommandAsync("RCPT TO:<bob@example.com> NOTIFY=SUCCESS,delay ORCPT=rfc822;Bob+2Bx@example.com"));
        Assert.Equal("250 2.1.5 Ok", await h.CommandAsync("RCPT TO:<carol@example.com>"));
        Assert.Equal("250 2.1.5 Ok", await h.CommandAsync("RCPT TO:<dave@example.com> NOTIFY=NEVER"));
        var tx = h.Sink.LastTransaction!;
        Assert.Equal(DsnReturn.Headers, tx.DsnReturn);
        Assert.Equal("QQ+314", tx.DsnEnvelopeId);
        Assert.Equal(
            [new SmtpRecipientDsn(DsnNotify.Success | DsnNotify.Delay, "rfc822;Bob+x@example.com"), SmtpRecipientDsn.None,
             new SmtpRecipientDsn(DsnNotify.Never, null)],
            tx.RecipientDsn);
    }

    [Theory]
    [InlineData("MAIL FROM:<a@example.com> RET=FULL RET=FULL", "501 5.5.4 Bad RET parameter syntax")]
    [InlineData("MAIL FROM:<a@example.com> RET", "501 5.5.4 Bad RET parameter syntax")]
    [InlineData("MAIL FROM:<a@example.com> ENVID=a+2", "501 5.5.4 Bad ENVID parameter syntax")]
    [InlineData("MAIL FROM:<a@example.com> ENVID=a+0Ab", "501 5.5.4 Bad ENVID parameter syntax")]
    [InlineData("MAIL FROM:<a@example.com> SMTPUTF8=yes", "555 5.5.4 Unsupported option: SMTPUTF8=yes")]
    [InlineData("RCPT TO:<b@example.com> NOTIFY=", "501 5.5.4 Error: Bad NOTIFY parameter syntax")]
    [InlineData("RCPT TO:<b@example.com> NOTIFY=FAILURE,FAILURE", "501 5.5.4 Error: Bad NOTIFY parameter syntax")]
    [InlineData("RCPT TO:<b@example.com> NOTIFY=SOMETIMES", "501 5.5.4 Error: Bad NOTIFY parameter syntax")]
    [InlineData("RCPT TO:<b@example.com> NOTIFY=FAILURE NOTIFY=DELAY", "501 5.5.4 Error: Bad NOTIFY parameter syntax")]
    [InlineData("RCPT TO:<b@example.com> ORCPT=b@example.com", "501 5.5.4 Error: Bad ORCPT parameter syntax")]
    [InlineData("RCPT TO:<b@example.com> ORCPT=rfc822;", "501 5.5.4 Error: Bad ORCPT parameter syntax")]
    [InlineData("RCPT TO:<b@example.com> ORCPT=rfc822;a=b", "501 5.5.4 Error: Bad ORCPT parameter syntax")]
    public async Task Bad_dsn_values_get_postfix_replies(string command, string reply)
    {
        await using var h = await EhloAsync();
        if (command.StartsWith("RCPT", StringComparison.Ordinal)) await h.CommandAsync("MAIL FROM:<a@example.com>");
        Assert.Equal(reply, await h.CommandAsync(command));
    }

    [Fact]
    public async Task With_dsn_discarded_its_parameters_are_refused()
    {
        var options = SmtpHarness.DefaultOptions with { DiscardEhloKeywords = new HashSet<string> { "dsn" } };
        await using var h = await EhloAsync(options);
        Assert.Equal("501 5.7.1 DSN support is disabled", await h.CommandAsync("MAIL FROM:<a@example.com> RET=FULL"));
        await h.CommandAsync("MAIL FROM:<a@example.com>");
        Assert.Equal("501 5.7.1 DSN support is disabled", await h.CommandAsync("RCPT TO:<b@example.com> NOTIFY=NEVER"));
    }

    [Theory]
    [InlineData("abc", "abc")]
    [InlineData("a+2Bb+3Dc", "a+b=c")]
    [InlineData("+C3+A9", "é")]
    [InlineData("", "")]
    public void Xtext_decodes_and_round_trips(string xtext, string text)
    {
        Assert.True(Xtext.TryDecode(xtext, out var decoded));
        Assert.Equal(text, decoded);
        Assert.True(Xtext.TryDecode(Xtext.Encode(text), out var again));
        Assert.Equal(text, again);
    }

    [Theory]
    [InlineData("a b")]
    [InlineData("a=b")]
    [InlineData("a+4")]
    [InlineData("+FF")]
    public void Xtext_refuses_what_is_not_xtext(string xtext) => Assert.False(Xtext.TryDecode(xtext, out _));

    [Fact]
    public void Notify_and_orcpt_parse_as_rfc_3461_says()
    {
        Assert.True(SmtpServerSession.TryParseNotify("FAILURE,SUCCESS", out var n));
        Assert.Equal(DsnNotify.Failure | DsnNotify.Success, n);
        Assert.False(SmtpServerSession.TryParseNotify("NEVER,DELAY", out _));
        Assert.True(SmtpServerSession.TryParseOrcpt("utf-8;jörg@example.com", out var o));
        Assert.Equal("utf-8;jörg@example.com", o);
        Assert.False(SmtpServerSession.TryParseOrcpt(";a@b", out _));
    }
}
