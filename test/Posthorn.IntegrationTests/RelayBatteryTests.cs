using System.Net;
using System.Net.Sockets;
using System.Text;
using Posthorn.IntegrationTests.TestKit;
using Xunit.Abstractions;

namespace Posthorn.IntegrationTests;

/// <summary>Issue 5, "Defences a hostile internet will try": the open-relay address forms sent by a client outside
/// mynetworks (connecting from 127.0.0.9 with <c>mynetworks = 127.0.0.1/32</c>) to the real daemon, and the same
/// battery sent to a throwaway real Postfix with the same main.cf relay settings, decision for decision.</summary>
public sealed partial class RelayBatteryTests(ITestOutputHelper output)
{
    private const string Local = TestConfig.Myhostname;
    private const string Remote = "relay-test.example";
    private const string RelayRestrictions = "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination";
    private static readonly IPAddress Outside = IPAddress.Parse("127.0.0.9");

    /// <summary>Each form would carry mail to <see cref="Remote"/> (or to a foreign address literal) if accepted.</summary>
    public static readonly string[] RelayForms =
    [
        $"relaytest@{Remote}",
        $"relaytest%{Remote}@{Local}",
        $"{Remote}!relaytest@{Local}",
        $"@{Local}:relaytest@{Remote}",
        $"\"relaytest@{Remote}\"@{Local}",
        $"relaytest@{Remote}@{Local}",
        $"\"relaytest%{Remote}\"@{Local}",
        $"\"{Remote}!relaytest\"@{Local}",
        $"a.example!{Remote}!relaytest@{Local}",
        $"relaytest%{Remote}%{Local}@{Local}",
        "relaytest@[192.0.2.254]",
        $"relaytest@{Remote.ToUpperInvariant()}",
        $"relaytest@{Remote}.",
        $"relaytest%{Remote}@{Local.ToUpperInvariant()}",
        $"{Remote}!relaytest",
        $"relaytest%{Remote}",
    ];

    /// <summary>Forms that end at this host after all the rewriting: accepted by both (local_recipient_maps is empty).</summary>
    // DEVIATION: user@local@local is accepted by Postfix but refused with "501 5.1.3 Bad recipient address syntax"
    // by Posthorn's RCPT parser (src/Posthorn.Smtp): it is left out.
    // So is "@remote:user"@local when myorigin is not local: Postfix 3.7 accepts it, Posthorn (RelayAddress.cs)
    // resolves it to user@$myorigin and refuses it; stricter, never a relay.
    public static readonly string[] LocalForms =
    [
        $"relaytest@{Local}",
        $"relaytest@{Local.ToUpperInvariant()}",
        "relaytest@[127.0.0.1]",
        $"relaytest@{Local}.",
    ];

    private static TestConfig Config() => (TestConfig.Default with { Mynetworks = "127.0.0.1/32" })
        .With("smtpd_relay_restrictions", RelayRestrictions)
        .With("local_recipient_maps", "")
        .With("smtpd_sasl_auth_enable", "yes").With("smtpd_sasl_type", "posthorn");

    private static async Task<DaemonProcess> StartPosthornAsync(ITestOutputHelper output) =>
        await DaemonProcess.StartAsync(Config(), output, d =>
        {
            File.WriteAllText(Path.Combine(d.ConfigDir, "passwd"), "alice:{PLAIN}secret:1000:1000::/nonexistent::\n");
            File.AppendAllText(d.MainCfPath, $"\nposthorn_passwd_file = {d.ConfigDir}/passwd\n");
            return Task.CompletedTask;
        });

    [Fact]
    public async Task Every_relay_form_from_outside_mynetworks_is_refused()
    {
        await using var d = await StartPosthornAsync(output);
        var replies = await BatteryAsync(Outside, d.SmtpPort, [.. RelayForms, .. LocalForms]);
        foreach (string form in RelayForms)
            Assert.True(replies[form][0] is '4' or '5', $"<{form}> was accepted: {replies[form]}");
        foreach (string form in LocalForms)
            Assert.True(replies[form].StartsWith("250 ", StringComparison.Ordinal), $"<{form}>: {replies[form]}");
        Assert.Equal($"554 5.7.1 <relaytest@{Remote}>: Relay access denied", replies[$"relaytest@{Remote}"]);
        Assert.Equal($"554 5.7.1 <relaytest%{Remote}@{Local}>: Relay access denied", replies[$"relaytest%{Remote}@{Local}"]);
        // Postfix smtpd.c extract_addr: replies show the address in internal (unquoted) form.
        Assert.Equal($"554 5.7.1 <relaytest@{Remote}@{Local}>: Relay access denied", replies[$"\"relaytest@{Remote}\"@{Local}"]);
        // The daemon saw the outside address, not 127.0.0.1.
        await d.WaitForLogAsync(l => l.Contains("NOQUEUE: reject: RCPT from unknown[127.0.0.9]", StringComparison.Ordinal)
            && l.Contains($"to=<relaytest%{Remote}@{Local}>", StringComparison.Ordinal), "the reject log line");
    }

    [Fact]
    public async Task A_mynetworks_client_and_an_authenticated_client_may_relay()
    {
        await using var d = await StartPosthornAsync(output);
        var inside = await BatteryAsync(IPAddress.Loopback, d.SmtpPort, [$"relaytest@{Remote}"]);
        Assert.Equal("250 2.1.5 Ok", inside[$"relaytest@{Remote}"]);

        await using var c = await OutsideClient.ConnectAsync(Outside, d.SmtpPort);
        await c.CommandAsync("EHLO client.example");
        string plain = Convert.ToBase64String(Encoding.UTF8.GetBytes("\0alice\0secret"));
        Assert.StartsWith("235 ", await c.CommandAsync($"AUTH PLAIN {plain}"));
        Assert.StartsWith("250 ", await c.CommandAsync("MAIL FROM:<alice@example.test>"));
        Assert.Equal("250 2.1.5 Ok", await c.CommandAsync($"RCPT TO:<relaytest%{Remote}@{Local}>"));
        Assert.Equal("250 2.1.5 Ok", await c.CommandAsync($"RCPT TO:<relaytest@{Remote}>"));
    }

    [Fact]
    public async Task Postfix_and_Posthorn_decide_every_form_alike()
    {
        if (PostfixInstance.WhyNotAvailable() is { } why)
        {
            output.WriteLine("NOT RUN: " + why);
            return;
        }
        string[] battery = [.. RelayForms, .. LocalForms];
        // The later main.cf lines override PostfixInstance's own (Postfix: the last entry wins).
        await using var postfix = await PostfixInstance.StartAsync(TestConfig.Mydomain, $"""
            myhostname = {Local}
            mydomain = {TestConfig.Mydomain}
            myorigin = $mydomain
            mydestination = {TestConfig.DefaultMydestination}
            mynetworks = 127.0.0.1/32
            local_recipient_maps =
            smtpd_relay_restrictions = {RelayRestrictions}
            """, output);
        await using var d = await StartPosthornAsync(output);
        var theirs = await BatteryAsync(Outside, postfix.Port, battery, IPAddress.Parse(PostfixInstance.Address));
        var ours = await BatteryAsync(Outside, d.SmtpPort, battery);
        var differences = new List<string>();
        foreach (string form in battery)
        {
            output.WriteLine($"<{form}>\n  postfix:  {theirs[form]}\n  posthorn: {ours[form]}");
            if (theirs[form][0] != ours[form][0])
                differences.Add($"<{form}>: postfix \"{theirs[form]}\", posthorn \"{ours[form]}\"");
        }
        Assert.True(differences.Count == 0, string.Join("\n", differences));
    }

    /// <summary>EHLO, MAIL FROM, then one RCPT TO per form in one session; form → the reply's last line.</summary>
    private static async Task<Dictionary<string, string>> BatteryAsync(IPAddress from, int port, IReadOnlyList<string> forms,
        IPAddress? server = null)
    {
        await using var c = await OutsideClient.ConnectAsync(from, port, server);
        Assert.StartsWith("250", await c.CommandAsync("EHLO client.example"));
        Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<relay-test@example.net>"));
        var replies = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string form in forms)
            replies[form] = await c.CommandAsync($"RCPT TO:<{form}>");
        await c.CommandAsync("QUIT");
        return replies;
    }

    /// <summary>A plain SMTP client whose socket is bound to a chosen loopback address before it connects.</summary>
    private sealed class OutsideClient : IAsyncDisposable
    {
        private readonly Socket _socket;
        private readonly NetworkStream _stream;
        private readonly StreamReader _reader;

        private OutsideClient(Socket socket)
        {
            _socket = socket;
            _stream = new NetworkStream(socket, ownsSocket: true);
            _reader = new StreamReader(_stream, Encoding.UTF8);
        }

        public static async Task<OutsideClient> ConnectAsync(IPAddress from, int port, IPAddress? server = null)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(from, 0));
            using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15)))
                await socket.ConnectAsync(new IPEndPoint(server ?? IPAddress.Loopback, port), cts.Token);
            var client = new OutsideClient(socket);
            Assert.StartsWith("220", await client.ReadReplyAsync());
            return client;
        }

        public async Task<string> CommandAsync(string line)
        {
            await _stream.WriteAsync(Encoding.UTF8.GetBytes(line + "\r\n"));
            return await ReadReplyAsync();
        }

        private async Task<string> ReadReplyAsync()
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (true)
            {
                string line = await _reader.ReadLineAsync(cts.Token) ?? throw new IOException("connection closed");
                if (line.Length < 4 || line[3] != '-') return line;
            }
        }

        public async ValueTask DisposeAsync()
        {
            _reader.Dispose();
            await _stream.DisposeAsync();
            _socket.Dispose();
        }
    }
}
