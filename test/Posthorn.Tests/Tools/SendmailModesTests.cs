using System.Text;
using Posthorn.Daemon.Tools;
using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Tools;

/// <summary>sendmail(1) modes that need main.cf: -bs, -bv, -q…, through the command's entry point on a temp
/// configuration whose queue no daemon serves (so what they leave in maildrop can be read back).</summary>
public sealed class SendmailModesTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-sendmail-");
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();

    public SendmailModesTests()
    {
        File.WriteAllText(Path.Combine(Dir, "main.cf"), $$"""
            myhostname = mail.example.test
            mydomain = example.test
            myorigin = $mydomain
            mydestination = $myhostname, localhost, $mydomain
            inet_interfaces = 127.0.0.1
            queue_directory = {{Dir}}/queue
            maillog_file = {{Dir}}/maillog
            alias_maps =
            alias_database =
            transport_maps = inline:{ {nowhere.test=error:5.1.2 no such domain} }
            """ + "\n");
        File.WriteAllText(Path.Combine(Dir, "master.cf"), "smtp inet n - n - - smtpd\n");
        new QueueDirectory(Path.Combine(Dir, "queue")).EnsureCreated();
    }

    public void Dispose() => _dir.Delete(recursive: true);

    private string Dir => _dir.FullName;

    private QueueDirectory Queue => new(Path.Combine(Dir, "queue"));

    private Task<int> Sendmail(string stdin, params string[] args) => Posthorn.Daemon.Tools.Sendmail.RunToolAsync(["-C", Dir, .. args], new ToolContext
    {
        Out = _out,
        Err = _err,
        In = new StringReader(stdin),
        OpenStdin = () => new MemoryStream(Encoding.UTF8.GetBytes(stdin)),
        GetEnv = _ => null,
    });

    private QueuedMessage OnlyMaildropMessage()
    {
        var id = Assert.Single(Queue.List(QueueName.Maildrop));
        return QueueFile.Read(Queue.PathOf(QueueName.Maildrop, id));
    }

    private static string Content(QueuedMessage m)
    {
        using var s = m.OpenContent();
        return new StreamReader(s).ReadToEnd();
    }

    [Fact]
    public async Task Bs_speaks_SMTP_on_stdin_and_stdout_and_drops_the_message_into_maildrop()
    {
        string dialog = "EHLO client.example\r\nMAIL FROM:<alice@sender.example>\r\nRCPT TO:<bob@example.test>\r\n" +
                        "RCPT TO:<carol@far.example> NOTIFY=NEVER\r\nDATA\r\nSubject: via -bs\r\n\r\n..dot line\r\nbody\r\n.\r\nQUIT\r\n";
        Assert.Equal(0, await Sendmail(dialog, "-bs"));

        var replies = _out.ToString().Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("220 mail.example.test ESMTP", replies[0]);
        var m = OnlyMaildropMessage();
        Assert.Contains($"250 2.0.0 Ok: queued as {m.Id}", replies);
        Assert.Equal("221 2.0.0 Bye", replies[^1]);
        // Postfix stand-alone smtpd: no access controls, so a remote recipient is accepted from "localhost".
        Assert.Equal("alice@sender.example", m.Envelope.Sender.ToString());
        Assert.Equal(["bob@example.test", "carol@far.example"], m.Envelope.Recipients.Select(r => r.Address));
        Assert.Equal(DsnNotifyFlags.Never, m.Envelope.Recipients[1].Notify);
        Assert.Equal("local", m.Envelope.Attributes[QueueEnvelope.RewriteContextAttribute]);
        Assert.True(m.Envelope.Attributes.ContainsKey(QueueEnvelope.UidAttribute));
        string content = Content(m);
        Assert.StartsWith("Received: from client.example (localhost [127.0.0.1])", content);
        Assert.Contains("Subject: via -bs\n\n.dot line\nbody\n", content);
    }

    [Fact]
    public async Task Bs_input_that_ends_mid_transaction_queues_nothing()
    {
        Assert.Equal(0, await Sendmail("HELO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: cut\r\n", "-bs"));
        Assert.Empty(Queue.List(QueueName.Maildrop));
    }

    [Fact]
    public async Task Bv_mails_a_status_report_to_the_sender_instead_of_delivering()
    {
        Assert.Equal(0, await Sendmail("", "-bv", "-f", "alice@example.test", "root", "nosuchuser4711@example.test", "u@nowhere.test", "u@far.example"));

        var m = OnlyMaildropMessage();
        Assert.True(m.Envelope.Sender.IsNull);
        Assert.Equal(["alice@example.test"], m.Envelope.Recipients.Select(r => r.Address));
        string content = Content(m);
        Assert.Contains("Subject: Mail Delivery Status Report", content);
        Assert.Contains("Enclosed is the mail delivery report that you requested.", content);
        Assert.Contains("<root@example.test>: delivery via local: delivers to local recipient root", content);
        Assert.Contains("<nosuchuser4711@example.test>: unknown user: \"nosuchuser4711\"", content);
        Assert.Contains("<u@nowhere.test>: no such domain", content);
        Assert.Contains("<u@far.example>: delivery via smtp: deliverable via smtp to far.example", content);
        Assert.Contains("Content-Type: message/delivery-status", content);
        Assert.Contains("Action: undeliverable", content);
        Assert.Contains("Status: 5.1.1", content);
        Assert.Contains("Status: 5.1.2", content);
        Assert.Contains("Action: deliverable", content);
    }

    [Fact]
    public async Task Bv_without_recipients_is_a_usage_error()
    {
        Assert.Equal(64, await Sendmail("", "-bv"));
        Assert.Empty(Queue.List(QueueName.Maildrop));
    }

    [Theory]
    [InlineData("-q")]
    [InlineData("-qRexample.net")]
    [InlineData("-qI8C557D81C5")]
    public async Task Q_forms_run_postqueue_and_report_a_stopped_mail_system(string flag)
    {
        Assert.Equal(69, await Sendmail("", flag));
        Assert.Equal("postqueue: fatal: Cannot flush mail queue - mail system is down\n", _err.ToString());
    }

    [Fact]
    public async Task QS_is_not_implemented_as_in_Postfix_and_an_interval_is_ignored()
    {
        Assert.Equal(64, await Sendmail("", "-qSexample.net"));
        Assert.Contains("-qS is not implemented", _err.ToString());
        Assert.Equal(0, await Sendmail("", "-q30m"));
    }

    [Fact]
    public void Parsing_keeps_recipients_after_a_bare_q_flag_separate()
    {
        var ctx = new ToolContext { Out = _out, Err = _err, GetEnv = _ => null };
        Assert.True(Posthorn.Daemon.Tools.Sendmail.TryParse(["-q", "-bv", "a@b.example"], ctx, out var r, out _));
        Assert.Equal('v', r.Mode);
        Assert.Equal(["a@b.example"], r.Recipients);
        Assert.True(Posthorn.Daemon.Tools.Sendmail.TryParse(["-I"], ctx, out r, out _));
        Assert.Equal('i', r.Mode);
        Assert.True(Posthorn.Daemon.Tools.Sendmail.TryParse(["-bi"], ctx, out r, out _));
        Assert.Equal('i', r.Mode);
    }
}
