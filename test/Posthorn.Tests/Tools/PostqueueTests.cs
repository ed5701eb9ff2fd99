using Posthorn.Daemon.Tools;
using Posthorn.Tests.Queue;
using Xunit;

namespace Posthorn.Tests.Tools;

/// <summary>postqueue(1)'s command line: one of -f -i -j -p -s, and what it says when the mail system is down.</summary>
public sealed class PostqueueTests
{
    [Theory]
    [InlineData(new string[0], "postqueue: fatal: usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site")]
    [InlineData(new[] { "-p", "-j" }, "postqueue: fatal: specify only one of -s -f -i -j or -p")]
    [InlineData(new[] { "-x" }, "postqueue: fatal: usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site")]
    [InlineData(new[] { "-i" }, "postqueue: fatal: usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site")]
    [InlineData(new[] { "-i", "not/an/id" }, "postqueue: fatal: Invalid request: \"not/an/id\"")]
    [InlineData(new[] { "-s", "bad site" }, "postqueue: fatal: Cannot flush mail queue - invalid destination: \"bad site\"")]
    public async Task Bad_usage_exits_64_with_Postfix_message(string[] args, string message)
    {
        using var q = new TempQueue();
        Assert.Equal(64, await Postqueue.RunAsync(args, q.Tool(), q.Root));
        Assert.Equal(message + "\n", q.Err.ToString().Replace("\r\n", "\n"));
    }

    [Theory]
    [InlineData("-f")]
    [InlineData("-i 8C557D81C5")]
    [InlineData("-s example.net")]
    [InlineData("-sexample.net")]
    public async Task Flush_requests_without_a_daemon_say_the_mail_system_is_down_and_exit_69(string argLine)
    {
        using var q = new TempQueue();
        Assert.Equal(69, await Postqueue.RunAsync(argLine.Split(' '), q.Tool(), q.Root));
        Assert.Equal("postqueue: fatal: Cannot flush mail queue - mail system is down\n", q.Err.ToString());
    }

    [Theory]
    [InlineData("example.net", true)]
    [InlineData("Mail-1.Example.NET.", true)]
    [InlineData("[192.0.2.1]", true)]
    [InlineData("[IPv6:2001:db8::1]", true)]
    [InlineData("", false)]
    [InlineData("-bad.example", false)]
    [InlineData("a..b", false)]
    [InlineData("[]", false)]
    [InlineData("x@example.net", false)]
    public void A_site_is_a_domain_or_an_address_literal(string site, bool ok) => Assert.Equal(ok, Postqueue.IsSite(site));

    [Fact]
    public async Task P_lists_as_mailq_does()
    {
        using var q = new TempQueue();
        Assert.Equal(0, await Postqueue.RunAsync(["-p"], q.Tool(), q.Root));
        Assert.Equal("Mail queue is empty\n", q.Out.ToString());
    }
}
