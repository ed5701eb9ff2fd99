using Xunit;
using Posthorn.Smtp;

namespace Posthorn.Tests.Smtp;

/// <summary>Greeting, HELO/EHLO, MAIL, RCPT, RSET, NOOP, VRFY, ETRN, QUIT: one transcript per rule.</summary>
public class SmtpServerSessionEnvelopeTests
{
    private const string Ehlo = "250-mail.example.test\n250-PIPELINING\n250-SIZE 10240000\n250-VRFY\n250-ETRN\n250-ENHANCEDSTATUSCODES\n250-8BITMIME\n250-DSN\n250-SMTPUTF8\n250 CHUNKING";

    [Fact]
    public async Task Helo_replies_with_the_hostname_and_quit_says_bye_and_closes()
    {
        await using var h = await SmtpHarness.StartAsync();
        Assert.Equal("250 mail.example.test", await h.CommandAsync("HELO client.example"));
        Assert.Equal("221 2.0.0 Bye", await h.CommandAsync("QUIT"));
        Assert.True(await h.ServerClosedAsync());
        await h.FinishAsync();
        Assert.Equal("postfix/smtpd[4242]: connect from localhost[127.0.0.1]", h.Log[0]);
        Assert.Equal("postfix/smtpd[4242]: disconnect from localhost[127.0.0.1] helo=1 quit=1 commands=2", h.Log[^1]);
    }

    [Fact]
    public async Task Ehlo_lists_the_implemented_extensions_only()
    {
        await using var h = await SmtpHarness.StartAsync();
        Assert.Equal(Ehlo, await h.CommandAsync("EHLO client.example"));
    }

    [Fact]
    public async Task Ehlo_honours_size_zero_disable_vrfy_and_discarded_keywords()
    {
        var options = SmtpHarness.DefaultOptions with
        {
            MessageSizeLimit = 0,
            DisableVrfy = true,
            DiscardEhloKeywords = new HashSet<string> { "pipelining", "etrn" },
        };
        await using var h = await SmtpHarness.StartAsync(options);
        Assert.Equal("250-mail.example.test\n250-SIZE\n250-ENHANCEDSTATUSCODES\n250-8BITMIME\n250-DSN\n250-SMTPUTF8\n250 CHUNKING", await h.CommandAsync("EHLO c"));
        Assert.Equal("502 5.5.1 VRFY command is disabled", await h.CommandAsync("VRFY bob"));
        Assert.Contains("postfix/smtpd[4242]: discarding EHLO keywords: PIPELINING ETRN", h.Log);
    }

    [Fact]
    public async Task Helo_and_ehlo_need_a_hostname()
    {
        await using var h = await SmtpHarness.StartAsync();
        Assert.Equal("501 Syntax: HELO hostname", await h.CommandAsync("HELO"));
        Assert.Equal("501 Syntax: EHLO hostname", await h.CommandAsync("EHLO   "));
    }

    [Fact]
    public async Task Mail_before_helo_is_refused_when_helo_is_required()
    {
        await using var h = await SmtpHarness.StartAsync(SmtpHarness.DefaultOptions with { HeloRequired = true });
        Assert.Equal("503 5.5.1 Error: send HELO/EHLO first", await h.CommandAsync("MAIL FROM:<a@example.com>"));
    }

    [Fact]
    public async Task Mail_before_helo_is_accepted_with_postfix_default_helo_required_no()
    {
        await using var h = await SmtpHarness.StartAsync();
        Assert.Equal("250 2.1.0 Ok", await h.CommandAsync("MAIL FROM:<a@example.com>"));
    }

    [Theory]
    [InlineData("MAIL FROM:<alice@example.com>")]
    [InlineData("MAIL FROM: <alice@example.com>")]
    [InlineData("mail from:alice@example.com")]
    [InlineData("MAIL FROM:<alice@example.com> BODY=8BITMIME SIZE=1000")]
    [InlineData("MAIL FROM:<alice@example.com> body=7bit")]
    [InlineData("MAIL FROM:<>")]
    public async Task Mail_accepts_the_forms_postfix_accepts(string command)
    {
        await using var h = await SmtpHarness.StartAsync();
        await h.CommandAsync("EHLO c");
        Assert.Equal("250 2.1.0 Ok", await h.CommandAsync(command));
    }

    [Theory]
    [InlineData("MAIL TO:<a@example.com>", "501 5.5.4 Syntax: MAIL FROM:<address>")]
    [InlineData("MAIL FROM:", "501 5.5.4 Syntax: MAIL FROM:<address>")]
    [InlineData("MAIL FROM:<a@>", "501 5.1.7 Bad sender address syntax")]
    [InlineData("MAIL FROM:<a@example.com> SIZE=20000000", "552 5.3.4 Message size exceeds fixed limit")]
    [InlineData("MAIL FROM:<a@example.com> SIZE=12k", "501 5.5.4 Bad message size syntax")]
    [InlineData("MAIL FROM:<a@example.com> BODY=BINARYMIME", "555 5.5.4 Unsupported option: BODY=BINARYMIME")]
    [InlineData("MAIL FROM:<a@example.com> RET=ALL", "501 5.5.4 Bad RET parameter syntax")]
    [InlineData("MAIL FROM:<spammer@example.com>", "553 5.7.1 <spammer@example.com>: Sender address rejected: Access denied")]
    public async Task Mail_refusals(string command, string reply)
    {
        await using var h = await SmtpHarness.StartAsync();
        await h.CommandAsync("EHLO c");
        Assert.Equal(reply, await h.CommandAsync(command));
        // The transaction did not start: a new MAIL is not "nested".
        Assert.Equal("250 2.1.0 Ok", await h.CommandAsync("MAIL FROM:<a@example.com>"));
    }

    [Fact]
    public async Task Nested_mail_is_refused()
    {
        await using var h = await SmtpHarness.StartAsync();
        await h.CommandAsync("EHLO c");
        await h.CommandAsync("MAIL FROM:<a@example.com>");
        Assert.Equal("503 5.5.1 Error: nested MAIL command", await h.CommandAsync("MAIL FROM:<b@example.com>"));
    }

    [Theory]
    [InlineData("RCPT FROM:<b@example.com>", "501 5.5.4 Syntax: RCPT TO:<address>")]
    [InlineData("RCPT TO:", "501 5.5.4 Syntax: RCPT TO:<address>")]
    [InlineData("RCPT TO:<>", "501 5.1.3 Bad recipient address syntax")]
    [InlineData("RCPT TO:<b@exa mple.com>", "501 5.1.3 Bad recipient address syntax")]
    [InlineData("RCPT TO:<b@example.com> NOTIFY=NEVER,SUCCESS", "501 5.5.4 Error: Bad NOTIFY parameter syntax")]
    [InlineData("RCPT TO:<b@example.com> XYZ=1", "555 5.5.4 Unsupported option: XYZ=1")]
    [InlineData("RCPT TO:<b@example.com>", "250 2.1.5 Ok")]
    [InlineData("RCPT TO: b@example.com", "250 2.1.5 Ok")]
    public async Task Rcpt_replies(string command, string reply)
    {
        await using var h = await SmtpHarness.StartAsync();
        await h.CommandAsync("EHLO c");
        await h.CommandAsync("MAIL FROM:<a@example.com>");
        Assert.Equal(reply, await h.CommandAsync(command));
    }

    [Fact]
    public async Task Rcpt_before_mail_needs_mail()
    {
        await using var h = await SmtpHarness.StartAsync();
        await h.CommandAsync("EHLO c");
        Assert.Equal("503 5.5.1 Error: need MAIL command", await h.CommandAsync("RCPT TO:<b@example.com>"));
    }

    [Fact]
    public async Task Relay_denied_is_logged_as_postfix_logs_a_reject()
    {
        await using var h = await SmtpHarness.StartAsync();
        await h.CommandAsync("EHLO client.example");
        await h.CommandAsync("MAIL FROM:<a@example.com>");
        Assert.Equal("554 5.7.1 <u@relay.test>: Relay access denied", await h.CommandAsync("RCPT TO:<u@relay.test>"));
        Assert.Contains("postfix/smtpd[4242]: NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <u@relay.test>: " +
            "Relay access denied; from=<a@example.com> to=<u@relay.test> proto=ESMTP helo=<client.example>", h.Log);
        // Once a recipient opened the queue file, the queue ID replaces NOQUEUE.
        await h.CommandAsync("RCPT TO:<b@example.com>");
        await h.CommandAsync("RCPT TO:<v@relay.test>");
        Assert.Contains(h.Log, l => l.StartsWith("postfix/smtpd[4242]: 4D2C1B0A00: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <v@relay.test>"));
        Assert.Equal("221 2.0.0 Bye", await h.CommandAsync("QUIT"));
        await h.FinishAsync();
        Assert.Equal("postfix/smtpd[4242]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1/3 quit=1 commands=4/6", h.Log[^1]);
    }

    [Fact]
    public async Task Recipient_limit_gives_452()
    {
        await using var h = await SmtpHarness.StartAsync(SmtpHarness.DefaultOptions with { RecipientLimit = 2 });
        await h.CommandAsync("EHLO c");
        await h.CommandAsync("MAIL FROM:<a@example.com>");
        Assert.Equal("250 2.1.5 Ok", await h.CommandAsync("RCPT TO:<b1@example.com>"));
        Assert.Equal("250 2.1.5 Ok", await h.CommandAsync("RCPT TO:<b2@example.com>"));
        Assert.Equal("452 4.5.3 Error: too many recipients", await h.CommandAsync("RCPT TO:<b3@example.com>"));
    }

    [Fact]
    public async Task The_writer_is_opened_once_at_the_first_accepted_recipient_and_rset_disposes_it()
    {
        await using var h = await SmtpHarness.StartAsync();
        await h.CommandAsync("EHLO c");
        await h.CommandAsync("MAIL FROM:<a@example.com>");
        await h.CommandAsync("RCPT TO:<u@relay.test>");
        Assert.Empty(h.Sink.Writers);
        await h.CommandAsync("RCPT TO:<b1@example.com>");
        await h.CommandAsync("RCPT TO:<b2@example.com>");
        var writer = Assert.Single(h.Sink.Writers);
        Assert.False(writer.Disposed);
        Assert.Equal("250 2.0.0 Ok", await h.CommandAsync("RSET"));
        Assert.True(writer.Disposed);
        Assert.False(writer.Committed);
        Assert.Equal("503 5.5.1 Error: need MAIL command", await h.CommandAsync("RCPT TO:<b@example.com>"));
        Assert.Equal("501 5.5.4 Syntax: RSET", await h.CommandAsync("RSET now"));
    }

    [Fact]
    public async Task Ehlo_resets_the_transaction()
    {
        await using var h = await SmtpHarness.StartAsync();
        await h.CommandAsync("EHLO c");
        await h.CommandAsync("MAIL FROM:<a@example.com>");
        await h.CommandAsync("RCPT TO:<b@example.com>");
        Assert.Equal(Ehlo, await h.CommandAsync("EHLO c"));
        Assert.True(h.Sink.Writers[0].Disposed);
        Assert.Equal("250 2.1.0 Ok", await h.CommandAsync("MAIL FROM:<a@example.com>"));
    }

    [Fact]
    public async Task Noop_vrfy_and_etrn()
    {
        await using var h = await SmtpHarness.StartAsync();
        Assert.Equal("250 2.0.0 Ok", await h.CommandAsync("NOOP"));
        Assert.Equal("250 2.0.0 Ok", await h.CommandAsync("NOOP ignored text"));
        Assert.Equal("501 5.5.4 Syntax: VRFY address", await h.CommandAsync("VRFY"));
        Assert.Equal("252 2.0.0 bob@example.com", await h.CommandAsync("VRFY <bob@example.com>"));
        Assert.Equal("550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table",
            await h.CommandAsync("VRFY nobody@example.com"));
        Assert.Equal("503 5.5.1 Error: send HELO/EHLO first", await h.CommandAsync("ETRN example.com"));
        await h.CommandAsync("HELO c");
        Assert.Equal("500 Syntax: ETRN domain", await h.CommandAsync("ETRN"));
        Assert.Equal("501 Error: invalid parameter syntax", await h.CommandAsync("ETRN bad..domain"));
        Assert.Equal("458 Unable to queue messages", await h.CommandAsync("ETRN @example.com"));
    }

    [Fact]
    public async Task Unknown_command_is_not_recognized_and_counted()
    {
        await using var h = await SmtpHarness.StartAsync();
        Assert.Equal("500 5.5.2 Error: command not recognized", await h.CommandAsync("XYZZY"));
        Assert.Equal("500 5.5.2 Error: command not recognized", await h.CommandAsync("TURN"));
        Assert.Equal("500 5.5.2 Error: bad syntax", await h.CommandAsync(""));
        Assert.Equal("221 2.0.0 Bye", await h.CommandAsync("QUIT"));
        await h.FinishAsync();
        Assert.Equal("postfix/smtpd[4242]: disconnect from localhost[127.0.0.1] quit=1 unknown=0/2 commands=1/3", h.Log[^1]);
    }

    [Fact]
    public async Task Header_lines_instead_of_commands_end_the_session()
    {
        await using var h = await SmtpHarness.StartAsync();
        Assert.Equal("221 2.7.0 Error: I can break rules, too. Goodbye.", await h.CommandAsync("Subject: hello"));
        Assert.True(await h.ServerClosedAsync());
        await h.FinishAsync();
        Assert.Contains("postfix/smtpd[4242]: warning: non-SMTP command from localhost[127.0.0.1]: Subject: hello", h.Log);
    }
}
