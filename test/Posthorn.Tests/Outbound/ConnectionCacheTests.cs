using System.Text;
using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Outbound;
using Xunit;

namespace Posthorn.Tests.Outbound;

/// <summary>Postfix smtp(8) connection caching: smtp_connection_cache_on_demand, smtp_connection_cache_time_limit.</summary>
public sealed class ConnectionCacheTests
{
    private static readonly QueueId Id = new("ABCDEF123456");

    private static SmtpTransport Transport(TimeSpan cacheTime, TimeProvider? clock = null) =>
        new(new SmtpClientOptions { HeloName = "client.test", TlsLevel = SmtpTlsLevel.None, ConnectionCacheTimeLimit = cacheTime },
            new NextHopResolver(new NoDnsResolver(), new HostLookupOptions(), new Random(1)),
            new MailLog(new ListLogSink(), "postfix", "client.test", TimeProvider.System, 1), clock ?? TimeProvider.System);

    private static OutboundMessage Message(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return new OutboundMessage(Id, SmtpPath.FromAddress("alice@client.test"), bytes.Length, () => new MemoryStream(bytes));
    }

    private static NextHop Hop(int port) => new("127.0.0.1", port, SkipMx: true);

    private static Task<OutboundDeliveryResult> Send(SmtpTransport t, int port, string text, bool backlog) =>
        t.DeliverAsync(Hop(port), Message(text), [new OutboundRecipient("bob@remote.test")], backlog, CancellationToken.None);

    [Fact]
    public async Task With_a_backlog_the_session_is_kept_and_the_next_message_reuses_it_after_rset()
    {
        await using var server = new LoopbackSmtpServer();
        var t = Transport(TimeSpan.FromMinutes(5));
        Assert.Equal(DeliveryOutcome.Sent, (await Send(t, server.Port, "one\n", backlog: true)).Recipients[0].Outcome);
        Assert.Equal(DeliveryOutcome.Sent, (await Send(t, server.Port, "two\n", backlog: false)).Recipients[0].Outcome);

        Assert.Equal(1, server.Sessions);
        Assert.Equal(["EHLO client.test", "MAIL", "RCPT", "DATA", "RSET", "MAIL", "RCPT", "DATA", "QUIT"],
            server.Commands.Select(c => c.StartsWith("EHLO", StringComparison.Ordinal) ? c : LoopbackSmtpServer.Verb(c)));
        Assert.Equal(2, server.Messages.Count);
    }

    [Fact]
    public async Task Without_a_backlog_or_with_caching_off_each_delivery_ends_with_quit()
    {
        await using var server = new LoopbackSmtpServer();
        await Send(Transport(TimeSpan.FromMinutes(5)), server.Port, "one\n", backlog: false);
        await Send(Transport(TimeSpan.Zero), server.Port, "two\n", backlog: true);

        Assert.Equal(2, server.Sessions);
        Assert.Equal(2, server.Commands.Count(c => c == "QUIT"));
    }

    [Fact]
    public async Task A_cached_session_the_server_dropped_is_replaced_by_a_new_connection()
    {
        // The server hangs up on RSET, as one that timed out the idle session would.
        await using var server = new LoopbackSmtpServer(c => LoopbackSmtpServer.Verb(c) == "RSET" ? null : LoopbackSmtpServer.DefaultReply(c));
        var t = Transport(TimeSpan.FromMinutes(5));
        await Send(t, server.Port, "one\n", backlog: true);
        var second = await Send(t, server.Port, "two\n", backlog: false);

        Assert.Equal(DeliveryOutcome.Sent, second.Recipients[0].Outcome);
        Assert.Equal(2, server.Sessions);
        Assert.Equal(2, server.Messages.Count);
    }

    [Fact]
    public async Task An_idle_session_is_closed_after_the_time_limit()
    {
        var clock = new ManualClock();
        await using var server = new LoopbackSmtpServer();
        var t = Transport(TimeSpan.FromSeconds(2), clock);
        await Send(t, server.Port, "one\n", backlog: true);
        clock.Advance(TimeSpan.FromSeconds(3));
        await Send(t, server.Port, "two\n", backlog: false);

        Assert.Equal(2, server.Sessions);
        Assert.DoesNotContain("RSET", server.Commands);
    }

    /// <summary>A clock whose timers fire only when <see cref="Advance"/> passes their due time.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private readonly List<(DateTimeOffset Due, TimerCallback Callback, object? State)> _timers = [];
        private DateTimeOffset _now = DateTimeOffset.UnixEpoch;

        public override DateTimeOffset GetUtcNow() => _now;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            if (dueTime == Timeout.InfiniteTimeSpan) return new NoTimer();
            lock (_timers) _timers.Add((_now + dueTime, callback, state));
            return new NoTimer();
        }

        public void Advance(TimeSpan by)
        {
            _now += by;
            List<(DateTimeOffset Due, TimerCallback Callback, object? State)> due;
            lock (_timers)
            {
                due = _timers.Where(x => x.Due <= _now).ToList();
                _timers.RemoveAll(x => x.Due <= _now);
            }
            foreach (var (_, callback, state) in due) callback(state);
        }

        private sealed class NoTimer : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;
            public void Dispose() { }
            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }

}
