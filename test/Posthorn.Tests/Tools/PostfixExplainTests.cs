using Posthorn.Daemon.Tools;
using Xunit;

namespace Posthorn.Tests.Tools;

/// <summary><c>posthorn postfix explain</c> and <c>--relay-test</c>, through the postfix(1) entry point, on a temp
/// configuration directory.</summary>
public sealed class PostfixExplainTests : IDisposable
{
    private const string BaseMainCf = """
        myhostname = mail.example.test
        mydestination = $myhostname, example.test, localhost
        mynetworks = 127.0.0.0/8
        inet_interfaces = 127.0.0.1
        alias_maps =
        local_recipient_maps =
        """;

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-explain-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Dir => _dir.FullName;

    private async Task<(int Status, string[] Lines, string Err)> Explain(string mainCf, params string[] args)
    {
        File.WriteAllText(Path.Combine(Dir, "main.cf"), BaseMainCf + "\n" + $"queue_directory = {Dir}/queue\n" + mainCf + "\n");
        File.WriteAllText(Path.Combine(Dir, "master.cf"), "smtp inet n - n - - smtpd\n");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var ctx = new ToolContext { Out = stdout, Err = stderr, In = new StringReader(""), GetEnv = _ => null };
        int status = await PostfixCommand.RunAsync(["-c", Dir, "explain", .. args], ctx);
        return (status, stdout.ToString().Split('\n'), stderr.ToString());
    }

    [Fact]
    public async Task A_mynetworks_client_is_permitted_by_the_relay_stage_and_accepted()
    {
        var (status, lines, err) = await Explain("", "--client", "127.0.0.1", "--helo", "client.example",
            "--from", "alice@sender.example", "--to", "far@remote.example");
        Assert.Equal("", err);
        Assert.Equal(0, status);
        Assert.Contains("client: unknown[127.0.0.1] (in mynetworks)", lines);
        Assert.Contains("stage smtpd_client_restrictions = (empty)", lines);
        Assert.Contains("stage smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination", lines);
        Assert.Contains("  permit_mynetworks: permit", lines);
        // The recipient list still runs after the relay list permitted (a permit ends only its own list).
        Assert.Contains("stage smtpd_recipient_restrictions = (empty)", lines);
        Assert.Contains("decision: accept", lines);
        Assert.Equal("reply: 250 2.1.5 Ok", lines.Last(l => l.Length > 0));
    }

    [Fact]
    public async Task An_outside_client_to_a_remote_domain_gets_relay_access_denied()
    {
        var (status, lines, _) = await Explain(
            "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
            "--client", "203.0.113.7", "--client-name", "host.example", "--from", "a@x.example", "--to", "b@remote.example");
        Assert.Equal(1, status);
        Assert.Contains("client: host.example[203.0.113.7]", lines);
        Assert.Contains("  permit_mynetworks: no decision", lines);
        Assert.Contains("  permit_sasl_authenticated: no decision", lines);
        Assert.Contains("  reject_unauth_destination: reject -> 554 5.7.1 <b@remote.example>: Relay access denied", lines);
        Assert.Contains("    resolved: b@remote.example (class remote) -> not an authorized destination", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("stage smtpd_recipient_restrictions", StringComparison.Ordinal));
        Assert.Contains("decision: reject at RCPT TO", lines);
        Assert.Equal("reply: 554 5.7.1 <b@remote.example>: Relay access denied", lines.Last(l => l.Length > 0));
    }

    [Fact]
    public async Task The_percent_hack_form_is_shown_resolved_to_its_real_destination()
    {
        var (status, lines, _) = await Explain("", "--client", "203.0.113.7", "--to", "b%remote.example@example.test");
        Assert.Equal(1, status);
        Assert.Contains("    resolved: b@remote.example (class remote) -> not an authorized destination", lines);
        Assert.Equal("reply: 454 4.7.1 <b%remote.example@example.test>: Relay access denied", lines.Last(l => l.Length > 0));
    }

    [Fact]
    public async Task An_authenticated_client_is_permitted_by_permit_sasl_authenticated()
    {
        var (status, lines, _) = await Explain("", "--client", "203.0.113.7", "--sasl", "alice", "--to", "b@remote.example");
        Assert.Equal(0, status);
        Assert.Contains("sasl: alice", lines);
        Assert.Contains("  permit_sasl_authenticated: permit", lines);
    }

    [Fact]
    public async Task A_check_sender_access_reject_shows_the_table_lookup()
    {
        string table = Path.Combine(Dir, "senders");
        File.WriteAllText(table, "spam.example REJECT no spam here\n");
        var (status, lines, _) = await Explain($"smtpd_sender_restrictions = check_sender_access texthash:{table}",
            "--client", "203.0.113.7", "--helo", "h.example", "--from", "a@spam.example", "--to", "b@example.test");
        Assert.Equal(1, status);
        Assert.Contains($"stage smtpd_sender_restrictions = check_sender_access, texthash:{table}", lines);
        int check = Array.IndexOf(lines,
            $"  check_sender_access texthash:{table}: reject -> 554 5.7.1 <a@spam.example>: Sender address rejected: no spam here");
        Assert.True(check > 0, string.Join("\n", lines));
        Assert.Equal($"    lookup texthash:{table}: a@spam.example, spam.example: found spam.example = REJECT no spam here", lines[check + 1]);
        // The relay and recipient lists never ran.
        Assert.DoesNotContain(lines, l => l.StartsWith("stage smtpd_relay_restrictions", StringComparison.Ordinal));
        Assert.Equal("reply: 554 5.7.1 <a@spam.example>: Sender address rejected: no spam here", lines.Last(l => l.Length > 0));
    }

    [Fact]
    public async Task A_sender_not_in_the_table_shows_every_key_looked_up()
    {
        string table = Path.Combine(Dir, "senders");
        File.WriteAllText(table, "spam.example REJECT\n");
        var (status, lines, _) = await Explain($"smtpd_sender_restrictions = check_sender_access texthash:{table}",
            "--client", "127.0.0.1", "--from", "a@ok.example", "--to", "b@example.test");
        Assert.Equal(0, status);
        Assert.Contains($"    lookup texthash:{table}: a@ok.example, ok.example, example, a@: not found", lines);
        Assert.Contains($"  check_sender_access texthash:{table}: no decision", lines);
    }

    [Fact]
    public async Task Relay_test_on_the_default_configuration_is_not_an_open_relay()
    {
        var (status, lines, _) = await Explain("", "--relay-test");
        Assert.Equal(0, status);
        Assert.StartsWith("relay test: client unknown[192.0.2.1] (outside mynetworks)", lines[0]);
        Assert.Contains(lines, l => l.Contains("<relaytest%relay-test.example@mail.example.test>", StringComparison.Ordinal)
            && l.Contains("refused: 454 4.7.1", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("ACCEPTED", StringComparison.Ordinal));
        Assert.Equal($"not an open relay: none of the {PostfixExplain.RelayForms("a", "b").Count} forms would be relayed from 192.0.2.1",
            lines.Last(l => l.Length > 0));
    }

    [Theory]
    [InlineData("mynetworks = 0.0.0.0/0")]
    [InlineData("smtpd_relay_restrictions = permit")]
    public async Task Relay_test_on_an_open_configuration_lists_each_relayed_form_and_fails(string open)
    {
        var (status, lines, _) = await Explain(open, "--relay-test");
        Assert.Equal(1, status);
        Assert.Contains(lines, l => l.StartsWith("OPEN RELAY: ", StringComparison.Ordinal));
        Assert.Contains("  <relaytest@relay-test.example> -> relaytest@relay-test.example", lines);
        Assert.Contains("  <relaytest@[192.0.2.254]> -> relaytest@[192.0.2.254]", lines);
        // An address literal of this host is local delivery, not relaying.
        Assert.DoesNotContain("  <relaytest@[127.0.0.1]> -> relaytest@[127.0.0.1]", lines);
    }

    [Fact]
    public async Task Relay_test_from_an_outside_client_of_the_operators_choice()
    {
        var (status, lines, _) = await Explain("mynetworks = 198.51.100.0/24", "--relay-test", "--client", "198.51.100.9");
        Assert.Equal(1, status);
        Assert.StartsWith("relay test: client unknown[198.51.100.9] (in mynetworks)", lines[0]);
    }

    [Theory]
    [InlineData("--client", "203.0.113.7")]
    [InlineData("--to", "b@example.test")]
    [InlineData("--client", "not-an-address", "--to", "b@example.test")]
    [InlineData("--bogus")]
    public async Task Usage_errors_exit_64(params string[] args)
    {
        var (status, _, err) = await Explain("", args);
        Assert.Equal(64, status);
        Assert.Contains("usage: postfix explain", err);
    }
}
