using System.Text;
using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

/// <summary>pipe(8) command attributes size=, eol=, directory= and null_sender=, against a real shell script.</summary>
public sealed class PipeAttributesTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-pipeattr-");
    private readonly FixedClock _clock = new(DeliveryFixture.Epoch);

    public PipeAttributesTests() => File.SetUnixFileMode(_dir.FullName, (UnixFileMode)0x1FF);   // reachable for nobody (root runs)

    public void Dispose() => _dir.Delete(recursive: true);

    private sealed class Nobody : IUserDatabase
    {
        public bool TryGetUser(string name, out SystemUser user)
        {
            user = new SystemUser(name, 65534, 65534, "/", "/bin/sh");
            return name == "nobody";
        }
    }

    private static PipeRequest Request(string content, SmtpPath sender, long size = 0) =>
        new(new QueueId("3F1A2B0C4D"), sender, [new PipeRecipient("bob@dest.example", null)], "dest.example",
            size > 0 ? size : Encoding.UTF8.GetByteCount(content), () => new MemoryStream(Encoding.UTF8.GetBytes(content)));

    private static PipeOptions Parse(params string[] args)
    {
        Assert.True(PipeOptions.TryParse("mypipe", args, out var o, out string error), error);
        return o;
    }

    /// <summary>Saves its working directory, its arguments and its input.</summary>
    private string Script()
    {
        string path = Path.Combine(_dir.FullName, "target.sh");
        File.WriteAllText(path, $"#!/bin/sh\nout={_dir.FullName}\npwd > $out/cwd\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > $out/argv\ncat > $out/input\nexit 0\n");
        File.SetUnixFileMode(path, (UnixFileMode)0x1ED);
        return path;
    }

    private Task<PipeResult> Deliver(PipeOptions o, PipeRequest r, string defaultDirectory = "/") =>
        new PipeTransport(o, new Nobody(), TimeSpan.FromSeconds(30), "/usr/bin/setpriv", _clock, defaultDirectory).DeliverAsync(r, "", default);

    private string Saved(string name) => File.ReadAllText(Path.Combine(_dir.FullName, name));

    [Fact]
    public void Attributes_parse_with_their_Postfix_defaults()
    {
        var o = Parse("user=nobody", "argv=/bin/true");
        Assert.Equal((0L, "\n", null, "MAILER-DAEMON"), (o.SizeLimit, o.Eol, o.Directory, o.NullSender));
        o = Parse("size=1000", "eol=\\r\\n", "directory=/tmp", "null_sender=", "user=nobody", "argv=/bin/true");
        Assert.Equal((1000L, "\r\n", "/tmp", ""), (o.SizeLimit, o.Eol, o.Directory, o.NullSender));
        Assert.False(PipeOptions.TryParse("x", ["size=lots", "argv=/bin/true"], out _, out string error));
        Assert.Equal("bad size limit: size=lots", error);
    }

    [Theory]
    [InlineData("\\r\\n", "\r\n")]
    [InlineData("\\n", "\n")]
    [InlineData("\\a\\b\\f\\t\\v\\\\", "\a\b\f\t\v\\")]
    [InlineData("\\015\\12", "\r\n")]
    [InlineData("\\0", "\0")]
    [InlineData("x\\qy", "xqy")]
    [InlineData("trailing\\", "trailing\\")]
    public void Eol_knows_the_C_escapes(string written, string meant) => Assert.Equal(meant, PipeOptions.Unescape(written));

    [Fact]
    public async Task A_message_over_size_bounces_with_5_2_3_without_running_the_command()
    {
        var o = Parse("size=100", "user=nobody", $"argv={Script()}");
        var r = await Deliver(o, Request("Subject: big\n\n" + new string('x', 200) + "\n", SmtpPath.FromAddress("a@b.example")));
        Assert.Equal((DeliveryOutcome.Bounced, "5.2.3", "message too large"), (r.Outcome, r.Dsn.ToString(), r.Text));
        Assert.False(File.Exists(Path.Combine(_dir.FullName, "input")));

        r = await Deliver(o, Request("Subject: small\n\nok\n", SmtpPath.FromAddress("a@b.example")));
        Assert.Equal(DeliveryOutcome.Sent, r.Outcome);
    }

    [Fact]
    public async Task Eol_crlf_ends_every_line_of_the_copy_including_the_prepended_headers()
    {
        var o = Parse("flags=R", "eol=\\r\\n", "user=nobody", $"argv={Script()}");
        var r = await Deliver(o, Request("Subject: s\n\nline one\nline two\n", SmtpPath.FromAddress("a@b.example")));
        Assert.Equal(DeliveryOutcome.Sent, r.Outcome);
        Assert.Equal("Return-Path: <a@b.example>\r\nSubject: s\r\n\r\nline one\r\nline two\r\n", Saved("input"));
    }

    [Fact]
    public async Task Directory_is_the_commands_working_directory_and_the_default_is_the_one_given()
    {
        var work = Directory.CreateDirectory(Path.Combine(_dir.FullName, "work"));
        File.SetUnixFileMode(work.FullName, (UnixFileMode)0x1FF);
        var r = await Deliver(Parse($"directory={work.FullName}", "user=nobody", $"argv={Script()}"), Request("x\n", SmtpPath.FromAddress("a@b.example")));
        Assert.Equal(DeliveryOutcome.Sent, r.Outcome);
        Assert.Equal(work.FullName + "\n", Saved("cwd"));

        r = await Deliver(Parse("user=nobody", $"argv={Script()}"), Request("x\n", SmtpPath.FromAddress("a@b.example")), defaultDirectory: _dir.FullName);
        Assert.Equal(DeliveryOutcome.Sent, r.Outcome);
        Assert.Equal(_dir.FullName + "\n", Saved("cwd"));
    }

    [Fact]
    public async Task A_directory_that_does_not_exist_defers()
    {
        var r = await Deliver(Parse($"directory={_dir.FullName}/missing", "user=nobody", $"argv={Script()}"), Request("x\n", SmtpPath.FromAddress("a@b.example")));
        Assert.Equal(DeliveryOutcome.Deferred, r.Outcome);
        Assert.Contains("missing", r.Text);
    }

    [Fact]
    public async Task The_null_sender_becomes_MAILER_DAEMON_or_the_null_sender_replacement()
    {
        var byDefault = Parse("flags=R", "user=nobody", $"argv={Script()}", "-f", "${sender}");
        Assert.Equal(DeliveryOutcome.Sent, (await Deliver(byDefault, Request("x\n", SmtpPath.Null))).Outcome);
        Assert.Equal("-f\nMAILER-DAEMON\n", Saved("argv"));
        Assert.StartsWith("Return-Path: <MAILER-DAEMON>\n", Saved("input"));

        var empty = Parse("flags=qR", "null_sender=", "user=nobody", $"argv={Script()}", "-f", "${sender}");
        Assert.Equal(DeliveryOutcome.Sent, (await Deliver(empty, Request("x\n", SmtpPath.Null))).Outcome);
        Assert.Equal("-f\n\n", Saved("argv"));
        Assert.StartsWith("Return-Path: <>\n", Saved("input"));

        var named = Parse("flags=q", "null_sender=double bounce", "user=nobody", $"argv={Script()}", "${sender}");
        Assert.Equal(DeliveryOutcome.Sent, (await Deliver(named, Request("x\n", SmtpPath.Null))).Outcome);
        Assert.Equal("\"double bounce\"\n", Saved("argv"));
    }
}
