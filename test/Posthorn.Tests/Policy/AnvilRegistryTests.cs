using System.Net;
using Posthorn.Config;
using Posthorn.Daemon.Policy;
using Posthorn.Daemon.Smtpd;
using Posthorn.Logging;
using Xunit;

namespace Posthorn.Tests.Policy;

/// <summary>The daemon-wide anvil view (<c>posthorn anvil</c>): counts per (service, client), Postfix anvil's
/// statistics lines, bounded memory.</summary>
public sealed class AnvilRegistryTests
{
    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static readonly DateTimeOffset Start = new(2026, 11, 5, 9, 3, 4, TimeSpan.Zero);
    private static readonly IPAddress One = IPAddress.Parse("127.0.0.1");

    [Fact]
    public void Counts_open_connections_and_each_rate_per_service_and_client()
    {
        var clock = new ManualClock(Start);
        var anvil = new AnvilRegistry(clock, TimeSpan.FromSeconds(60));
        anvil.Connect("smtp", One);
        anvil.Connect("smtp", One);
        anvil.Connect("submission", One);
        anvil.Connect("smtp", IPAddress.Parse("::ffff:127.0.0.2"));   // counted under its IPv4 form
        anvil.Record(AnvilEvent.Message, "smtp", One);
        for (int i = 0; i < 3; i++) anvil.Record(AnvilEvent.Recipient, "smtp", One);
        anvil.Record(AnvilEvent.Auth, "smtp", One);
        anvil.Disconnect("smtp", One);
        var rows = anvil.Snapshot().Entries.ToDictionary(e => e.Key);
        Assert.Equal(["smtp:127.0.0.1", "smtp:127.0.0.2", "submission:127.0.0.1"], rows.Keys.Order(StringComparer.Ordinal));
        var one = rows["smtp:127.0.0.1"];
        Assert.Equal((1, 2, 1, 3, 1), (one.Connections, one.ConnectionRate, one.MessageRate, one.RecipientRate, one.AuthRate));
        Assert.Equal((1, 1, 0), (rows["submission:127.0.0.1"].Connections, rows["submission:127.0.0.1"].ConnectionRate, rows["submission:127.0.0.1"].MessageRate));
    }

    [Fact]
    public void Rates_restart_after_a_time_unit_and_idle_clients_are_forgotten()
    {
        var clock = new ManualClock(Start);
        var anvil = new AnvilRegistry(clock, TimeSpan.FromSeconds(60));
        anvil.Connect("smtp", One);
        anvil.Connect("smtp", IPAddress.Parse("127.0.0.3"));
        anvil.Disconnect("smtp", IPAddress.Parse("127.0.0.3"));
        anvil.Record(AnvilEvent.Message, "smtp", One);
        clock.Now += TimeSpan.FromSeconds(61);
        // The open connection keeps its row; its rates are back to zero. The idle client is gone.
        var row = Assert.Single(anvil.Snapshot().Entries);
        Assert.Equal(("smtp:127.0.0.1", 1, 0, 0), (row.Key, row.Connections, row.ConnectionRate, row.MessageRate));
        anvil.Record(AnvilEvent.Message, "smtp", One);
        Assert.Equal(1, anvil.Snapshot().Entries[0].MessageRate);
        anvil.Disconnect("smtp", One);
        clock.Now += TimeSpan.FromSeconds(60);
        Assert.Empty(anvil.Snapshot().Entries);
        // The maxima outlive the rows.
        Assert.Contains(anvil.Snapshot().Maxima, m => m.What == "connection count" && m.Value == 1);
    }

    [Fact]
    public void View_prints_postfix_anvil_statistics_lines_and_the_current_table()
    {
        var clock = new ManualClock(Start);
        var anvil = new AnvilRegistry(clock, TimeSpan.FromSeconds(60));
        anvil.Connect("smtp", One);
        clock.Now += TimeSpan.FromSeconds(1);
        anvil.Connect("smtp", One);
        anvil.Record(AnvilEvent.Recipient, "smtp", One);
        var lines = anvil.Snapshot().Format(TimeZoneInfo.Utc);
        Assert.Equal(
        [
            "statistics: max connection rate 2/60s for (smtp:127.0.0.1) at Nov  5 09:03:05",
            "statistics: max connection count 2 for (smtp:127.0.0.1) at Nov  5 09:03:05",
            "statistics: max recipient rate 1/60s for (smtp:127.0.0.1) at Nov  5 09:03:05",
            "statistics: max cache size 1 at Nov  5 09:03:04",
            "service:client   conn  conn-rate   msg-rate  rcpt-rate  auth-rate",
            "smtp:127.0.0.1      2      2/60s      0/60s      1/60s      0/60s",
        ], lines);
    }

    [Fact]
    public void Connection_gate_feeds_the_view_without_changing_its_limits()
    {
        var anvil = new AnvilRegistry(new ManualClock(Start), TimeSpan.FromSeconds(60));
        var gate = new SmtpdConnectionGate(TimeProvider.System) { Activity = anvil };
        var limits = new SmtpdConnectionGate.Limits(0, 1, NetworkList.Empty, null);
        Assert.Null(gate.Admit(limits, "smtp", One, "localhost[127.0.0.1]", "mail.example.test", MailLog.Discard));
        // Over smtpd_client_connection_count_limit = 1: refused as before, and counted as an attempt that left.
        Assert.NotNull(gate.Admit(limits, "smtp", One, "localhost[127.0.0.1]", "mail.example.test", MailLog.Discard));
        var row = Assert.Single(anvil.Snapshot().Entries);
        Assert.Equal((1, 2), (row.Connections, row.ConnectionRate));
        gate.Release("smtp", One);
        Assert.Equal(0, anvil.Snapshot().Entries[0].Connections);
        Assert.Equal(0, gate.OpenFrom("smtp", One));
    }
}
