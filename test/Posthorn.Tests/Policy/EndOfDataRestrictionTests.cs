using Xunit;

namespace Posthorn.Tests.Policy;

/// <summary>smtpd_end_of_data_restrictions (Postfix smtpd_check_eod): evaluated after the final dot or BDAT LAST,
/// before the 250, with Postfix's <c>&lt;END-OF-MESSAGE&gt;: End-of-data rejected</c> wording.</summary>
public sealed class EndOfDataRestrictionTests : IDisposable
{
    private readonly PolicyHarness _h = new();

    public void Dispose() => _h.Dispose();

    private const string Message = "Subject: x\r\n\r\nbody\r\n.";

    private static async Task StartAsync(SmtpdSinkPolicyTests.Dialogue d, string rcpt = "user@example.test")
    {
        await d.ReplyAsync();
        await d.CommandAsync("EHLO client.example");
        Assert.Equal("250 2.1.0 Ok", await d.CommandAsync("MAIL FROM:<a@sender.example>"));
        Assert.Equal("250 2.1.5 Ok", await d.CommandAsync($"RCPT TO:<{rcpt}>"));
    }

    private static IEnumerable<string> QueueFiles(SmtpdSinkPolicyTests.Dialogue d) =>
        Directory.EnumerateFiles(d.Queue.Root, "*", SearchOption.AllDirectories);

    [Fact]
    public async Task Reject_refuses_the_message_after_the_dot_logs_it_and_queues_nothing()
    {
        await using var d = new SmtpdSinkPolicyTests.Dialogue(_h, "smtpd_end_of_data_restrictions = reject");
        await StartAsync(d);
        Assert.Equal("354 End data with <CR><LF>.<CR><LF>", await d.CommandAsync("DATA"));
        Assert.Equal("554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied", await d.CommandAsync(Message));
        Assert.Contains(_h.Lines, l => l.Contains(": reject: END-OF-MESSAGE from client.example[192.0.2.7]: 554 5.7.1 <END-OF-MESSAGE>: "
            + "End-of-data rejected: Access denied; from=<a@sender.example> to=<user@example.test> proto=ESMTP helo=<client.example>"));
        Assert.DoesNotContain(_h.Lines, l => l.StartsWith("NOQUEUE: reject: END-OF-MESSAGE", StringComparison.Ordinal));
        Assert.Empty(QueueFiles(d));
        // The transaction is over: a new one may start.
        Assert.Equal("250 2.1.0 Ok", await d.CommandAsync("MAIL FROM:<a@sender.example>"));
    }

    [Fact]
    public async Task Defer_gives_a_temporary_refusal_and_an_empty_list_accepts()
    {
        await using (var d = new SmtpdSinkPolicyTests.Dialogue(_h, "smtpd_end_of_data_restrictions = defer"))
        {
            await StartAsync(d);
            await d.CommandAsync("DATA");
            Assert.Equal("450 4.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied", await d.CommandAsync(Message));
        }
        await using (var d = new SmtpdSinkPolicyTests.Dialogue(_h, "smtpd_end_of_data_restrictions = permit_mynetworks, reject"))
        {
            // 192.0.2.7 is outside mynetworks: reject. The same list from 127.0.0.1 is permitted (below).
            await StartAsync(d);
            await d.CommandAsync("DATA");
            Assert.StartsWith("554 5.7.1 <END-OF-MESSAGE>", await d.CommandAsync(Message));
        }
        await using (var d = new SmtpdSinkPolicyTests.Dialogue(_h, "smtpd_end_of_data_restrictions = permit_mynetworks, reject", client: "127.0.0.1"))
        {
            await StartAsync(d);
            await d.CommandAsync("DATA");
            Assert.StartsWith("250 2.0.0 Ok: queued as ", await d.CommandAsync(Message));
        }
    }

    [Fact]
    public async Task Bdat_last_chunk_is_checked_too()
    {
        await using var d = new SmtpdSinkPolicyTests.Dialogue(_h, "smtpd_end_of_data_restrictions = reject");
        await StartAsync(d);
        // The dialogue appends CRLF: the chunk is "Subject: x\r\n\r\nbody\r\n", 20 bytes.
        Assert.Equal("554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied", await d.CommandAsync("BDAT 20 LAST\r\nSubject: x\r\n\r\nbody"));
        Assert.Empty(QueueFiles(d));
    }

    [Fact]
    public async Task Access_tables_answer_with_their_own_wording_and_hold_reaches_the_hold_queue()
    {
        string clients = _h.Hash("clients", "192.0.2.7 REJECT no mail from you\n");
        await using (var d = new SmtpdSinkPolicyTests.Dialogue(_h, $"smtpd_end_of_data_restrictions = check_client_access {clients}"))
        {
            await StartAsync(d);
            await d.CommandAsync("DATA");
            Assert.Equal("554 5.7.1 <client.example[192.0.2.7]>: Client host rejected: no mail from you", await d.CommandAsync(Message));
        }
        string senders = _h.Hash("senders", "a@sender.example HOLD\n");
        await using (var d = new SmtpdSinkPolicyTests.Dialogue(_h, $"smtpd_end_of_data_restrictions = check_sender_access {senders}"))
        {
            await StartAsync(d);
            await d.CommandAsync("DATA");
            string queued = await d.CommandAsync(Message);
            Assert.StartsWith("250 2.0.0 Ok: queued as ", queued);
            string id = queued["250 2.0.0 Ok: queued as ".Length..];
            Assert.True(File.Exists(Path.Combine(d.Queue.Root, "hold", id)));
        }
    }

    [Fact]
    public async Task Policy_service_gets_end_of_message_state_with_the_real_size_and_its_reject_is_the_reply()
    {
        await using var server = new PolicyServiceTests.PolicyServer(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0),
            a => a["protocol_state"] == "END-OF-MESSAGE" && long.Parse(a["size"], System.Globalization.CultureInfo.InvariantCulture) > 10
                ? "REJECT message too large for this policy" : "DUNNO");
        await using var d = new SmtpdSinkPolicyTests.Dialogue(_h, $"smtpd_end_of_data_restrictions = check_policy_service {server.Address}");
        await StartAsync(d);
        await d.CommandAsync("DATA");
        Assert.Equal("554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: message too large for this policy", await d.CommandAsync(Message));
        var request = Assert.Single(server.Requests);
        // Postfix counts each content line plus two: "Subject: x" 12, "" 2, "body" 6.
        Assert.Equal(("END-OF-MESSAGE", "20", "1", "user@example.test"),
            (request["protocol_state"], request["size"], request["recipient_count"], request["recipient"]));
        Assert.NotEqual("", request["queue_id"]);
    }
}
