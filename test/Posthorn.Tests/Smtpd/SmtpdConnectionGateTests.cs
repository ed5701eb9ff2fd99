using Xunit;
using System.Net;
using Posthorn.Config;
using Posthorn.Core;
using Posthorn.Daemon.Smtpd;
using Posthorn.Logging;
using Posthorn.Tests.Outbound;

namespace Posthorn.Tests.Smtpd;

/// <summary>smtpd_client_connection_count_limit and the refusal log lines, on the gate smtpd passes before a
/// session starts.</summary>
public sealed class SmtpdConnectionGateTests
{
    private static readonly IPAddress Client = IPAddress.Parse("192.0.2.7");
    private static readonly IPAddress Other = IPAddress.Parse("192.0.2.8");
    private readonly ListLogSink _sink = new();
    private MailLog Log => new(_sink, "postfix", "mail.example.test", TimeProvider.System, 1);
    private readonly SmtpdConnectionGate _gate = new(TimeProvider.System);

    private static SmtpdConnectionGate.Limits CountLimit(int limit, string exceptions = "")
    {
        Assert.True(NetworkList.TryParse(exceptions, out var list, out string? error), error);
        return new SmtpdConnectionGate.Limits(MaxConnections: 0, CountLimit: limit, list, Rate: null);
    }

    private SmtpReply? Admit(SmtpdConnectionGate.Limits limits, IPAddress client) =>
        _gate.Admit(limits, "smtp", client, $"unknown[{client}]", "mail.example.test", Log);

    [Fact]
    public void Past_the_count_limit_a_client_gets_421_4_7_0_and_the_log_reads_as_postfix()
    {
        var limits = CountLimit(2);
        Assert.Null(Admit(limits, Client));
        Assert.Null(Admit(limits, Client));
        Assert.Null(Admit(limits, Other)); // another client has its own count

        var refusal = Admit(limits, Client);

        Assert.Equal(new SmtpReply(421, "4.7.0", "mail.example.test Error: too many connections from 192.0.2.7"), refusal);
        Assert.Equal(
            ["connect from unknown[192.0.2.7]",
             "warning: Connection concurrency limit exceeded: 3 from unknown[192.0.2.7] for service smtp"],
            _sink.Lines);
        Assert.Equal(2, _gate.OpenFrom("smtp", Client));
        Assert.Equal(3, _gate.Open);
    }

    [Fact]
    public void A_released_connection_frees_its_place_and_counts_are_per_service()
    {
        var limits = CountLimit(1);
        Assert.Null(Admit(limits, Client));
        Assert.NotNull(Admit(limits, Client));
        Assert.Null(_gate.Admit(limits, "submission", Client, "unknown[192.0.2.7]", "h", Log));

        _gate.Release("smtp", Client);

        Assert.Equal(0, _gate.OpenFrom("smtp", Client));
        Assert.Null(Admit(limits, Client));
        Assert.Equal(2, _gate.Open);
    }

    [Fact]
    public void Clients_in_smtpd_client_event_limit_exceptions_and_a_zero_limit_are_not_counted_against()
    {
        var exempt = CountLimit(1, "192.0.2.0/24");
        Assert.Null(Admit(exempt, Client));
        Assert.Null(Admit(exempt, Client));
        var unlimited = CountLimit(0);
        for (int i = 0; i < 100; i++) Assert.Null(Admit(unlimited, Other));
        Assert.Empty(_sink.Lines);
    }

    [Fact]
    public void The_daemon_wide_limit_refuses_with_all_server_ports_are_busy()
    {
        var limits = new SmtpdConnectionGate.Limits(MaxConnections: 1, CountLimit: 0, NetworkList.Empty, Rate: null);
        Assert.Null(Admit(limits, Client));
        Assert.Equal(new SmtpReply(421, "4.3.2", "All server ports are busy"), Admit(limits, Other));
        Assert.Equal("connect from unknown[192.0.2.8]", _sink.Lines[0]);
        Assert.Equal(1, _gate.Open);
        Assert.Equal(0, _gate.OpenFrom("smtp", Other));
    }
}
