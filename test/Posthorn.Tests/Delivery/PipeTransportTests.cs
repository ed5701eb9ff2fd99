using System.Text;
using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

/// <summary>pipe(8): master.cf attributes, argv macro expansion, the content flags and the exit status mapping,
/// against a real shell script target.</summary>
public sealed class PipeTransportTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-pipe-");
    private readonly FixedClock _clock = new(DeliveryFixture.Epoch);

    public PipeTransportTests()
    {
        // As root the command runs as user= (nobody here): the script and its output directory must be open to it.
        File.SetUnixFileMode(_dir.FullName, (UnixFileMode)0x1FF);
    }

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>user= resolves to nobody (65534) whatever the database says; not root, so pipe(8) accepts it.</summary>
    private sealed class Nobody : IUserDatabase
    {
        public bool TryGetUser(string name, out SystemUser user)
        {
            user = new SystemUser(name, 65534, 65534, "/", "/bin/sh");
            return name == "nobody";
        }
    }

    private static PipeRequest Request(string content, params string[] recipients) =>
        new(new QueueId("3F1A2B0C4D"), SmtpPath.FromAddress("Alice@Sender.example"),
            recipients.Select(r => new PipeRecipient(r, null)).ToList(), "NextHop.Example", 1234,
            () => new MemoryStream(Encoding.UTF8.GetBytes(content)));

    private static PipeOptions Parse(params string[] args)
    {
        Assert.True(PipeOptions.TryParse("mypipe", args, out var o, out string error), error);
        return o;
    }

    /// <summary>A script that saves its arguments (one per line) and its input, then exits with <paramref name="exit"/>.</summary>
    private string Script(int exit, string say = "")
    {
        string path = Path.Combine(_dir.FullName, $"target{exit}.sh");
        File.WriteAllText(path,
            "#!/bin/sh\n" +
            $"out={_dir.FullName}\n" +
            "for a in \"$@\"; do printf '%s\\n' \"$a\"; done > $out/argv\n" +
            "cat > $out/input\n" +
            (say.Length > 0 ? $"echo '{say}'\n" : "") +
            $"exit {exit}\n");
        File.SetUnixFileMode(path, (UnixFileMode)0x1ED);
        return path;
    }

    private PipeTransport Transport(PipeOptions o) => new(o, new Nobody(), TimeSpan.FromSeconds(30), "/usr/bin/setpriv", _clock);

    [Fact]
    public void Attributes_are_parsed_and_argv_is_required_last()
    {
        var o = Parse("flags=DRhu", "user=nobody", "argv=/usr/bin/deliver", "-f", "${sender}");
        Assert.Equal(("DRhu", "nobody"), (o.Flags, o.User));
        Assert.Equal(["/usr/bin/deliver", "-f", "${sender}"], o.Argv);
        Assert.False(PipeOptions.TryParse("x", ["flags=F", "user=nobody"], out _, out string error));
        Assert.Equal("missing argv= command-line attribute", error);
        Assert.False(PipeOptions.TryParse("x", ["bogus", "argv=/bin/true"], out _, out error));
        Assert.Equal("unknown attribute name: bogus", error);
    }

    [Fact]
    public void Macros_expand_and_recipient_arguments_repeat_per_recipient()
    {
        var o = Parse("flags=", "argv=/bin/prog", "-f", "${sender}", "-n", "${nexthop}", "--", "${recipient}",
            "u=${user} x=${extension} m=${mailbox} d=${domain}", "${queue_id}", "${size}", "${unknown}");
        var argv = PipeTransport.ExpandArgv(o, Request("", "Bob+Tag@Dest.Example", "carol@dest.example"), "+");
        Assert.Equal([
            "/bin/prog", "-f", "Alice@Sender.example", "-n", "NextHop.Example", "--",
            "Bob+Tag@Dest.Example", "carol@dest.example",
            "u=Bob x=Tag m=Bob+Tag d=Dest.Example", "u=carol x= m=carol d=dest.example",
            "3F1A2B0C4D", "1234", "${unknown}",
        ], argv);
    }

    [Fact]
    public void Flags_h_u_and_q_fold_and_quote()
    {
        var o = Parse("flags=huq", "argv=/bin/prog", "${recipient}", "${user}", "${domain}", "${nexthop}");
        var argv = PipeTransport.ExpandArgv(o, Request("", "\"Odd Name\"@Dest.Example"), "");
        Assert.Equal("\"odd name\"@dest.example", argv[1]);
        Assert.Equal("dest.example", argv[3]);
        Assert.Equal("nexthop.example", argv[4]);

        o = Parse("flags=q", "argv=/bin/prog", "${recipient}");
        Assert.Equal("\"a b\"@x.example", PipeTransport.ExpandArgv(o, Request("", "a b@x.example"), "")[1]);
    }

    [Fact]
    public async Task The_command_gets_its_arguments_and_the_message_with_the_flags_headers_and_quoting()
    {
        var o = Parse("flags=FRDO.>B", "user=nobody", $"argv={Script(0)}", "${recipient}", "${sender}");
        var r = await Transport(o).DeliverAsync(Request("Subject: hi\n\n.hidden\nFrom here\nend\n", "bob@dest.example"), "", default);

        Assert.Equal((DeliveryOutcome.Sent, "2.0.0", "delivered via mypipe service"), (r.Outcome, r.Dsn.ToString(), r.Text));
        Assert.Equal("bob@dest.example\nAlice@Sender.example\n", File.ReadAllText(Path.Combine(_dir.FullName, "argv")));
        string input = File.ReadAllText(Path.Combine(_dir.FullName, "input"));
        Assert.StartsWith("From Alice@Sender.example  ", input);
        Assert.Contains("\nReturn-Path: <Alice@Sender.example>\nDelivered-To: bob@dest.example\nX-Original-To: bob@dest.example\nSubject: hi\n", input);
        Assert.EndsWith("\n\n..hidden\n>From here\nend\n\n", input);
    }

    [Fact]
    public async Task Without_flags_the_message_goes_as_it_is()
    {
        var o = Parse("user=nobody", $"argv={Script(0)}");
        await Transport(o).DeliverAsync(Request("Subject: hi\n\n.hidden\nFrom here\n", "bob@dest.example"), "", default);
        Assert.Equal("Subject: hi\n\n.hidden\nFrom here\n", File.ReadAllText(Path.Combine(_dir.FullName, "input")));
    }

    [Theory]
    [InlineData(75, DeliveryOutcome.Deferred, "4.3.0", "temporary failure. Command output: busy now")]
    [InlineData(67, DeliveryOutcome.Bounced, "5.1.1", "user unknown. Command output: busy now")]
    [InlineData(3, DeliveryOutcome.Bounced, "5.3.0", "Command died with status 3: \"SCRIPT\". Command output: busy now")]
    public async Task Exit_statuses_map_as_postfix_pipe_command_does(int exit, DeliveryOutcome outcome, string dsn, string text)
    {
        string script = Script(exit, say: "busy now");
        var o = Parse("user=nobody", $"argv={script}");
        var r = await Transport(o).DeliverAsync(Request("Subject: x\n\nbody\n", "bob@dest.example"), "", default);
        Assert.Equal((outcome, dsn, text.Replace("SCRIPT", script, StringComparison.Ordinal)), (r.Outcome, r.Dsn.ToString(), r.Text));
    }

    [Fact]
    public async Task As_root_a_missing_or_root_user_is_refused()
    {
        if (!LibC.IsRoot) return;   // the user= checks apply only when the daemon can change users
        var r = await Transport(Parse($"argv={Script(0)}")).DeliverAsync(Request("x\n", "bob@dest.example"), "", default);
        Assert.Equal(DeliveryOutcome.Deferred, r.Outcome);
        Assert.Contains("without user= attribute", r.Text);
        r = await Transport(Parse("user=nobody:0", $"argv={Script(0)}")).DeliverAsync(Request("x\n", "bob@dest.example"), "", default);
        Assert.Contains("specifies root privileges", r.Text);
        Assert.False(File.Exists(Path.Combine(_dir.FullName, "input")));
    }
}
