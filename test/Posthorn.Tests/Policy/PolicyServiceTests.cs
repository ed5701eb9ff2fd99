using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit;

namespace Posthorn.Tests.Policy;

/// <summary>check_policy_service against a real policy server on loopback that speaks the SMTPD_POLICY_README
/// protocol: it reads the attribute lines up to the empty line and answers <c>action=…</c>.</summary>
public sealed class PolicyServiceTests : IDisposable
{
    private readonly PolicyHarness _h = new();

    public void Dispose() => _h.Dispose();

    /// <summary>A one-request-per-connection policy server; <paramref name="decide"/> maps the request's
    /// attributes to the action. The requests it received are kept.</summary>
    internal sealed class PolicyServer : IAsyncDisposable
    {
        private readonly Socket _listener;
        private readonly Task _loop;
        private readonly CancellationTokenSource _stop = new();
        public List<Dictionary<string, string>> Requests { get; } = [];

        public PolicyServer(EndPoint endPoint, Func<Dictionary<string, string>, string?> decide)
        {
            _listener = endPoint is UnixDomainSocketEndPoint
                ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            _listener.Bind(endPoint);
            _listener.Listen();
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    Socket client;
                    try { client = await _listener.AcceptAsync(_stop.Token); }
                    catch (OperationCanceledException) { return; }
                    using (client)
                    {
                        var text = new StringBuilder();
                        var buffer = new byte[1024];
                        while (!text.ToString().Contains("\n\n"))
                        {
                            int n = await client.ReceiveAsync(buffer, SocketFlags.None);
                            if (n == 0) break;
                            text.Append(Encoding.UTF8.GetString(buffer, 0, n));
                        }
                        var attrs = text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
                            .Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
                        lock (Requests) Requests.Add(attrs);
                        string? action = decide(attrs);
                        if (action is null) continue;   // hang up without an answer
                        await client.SendAsync(Encoding.UTF8.GetBytes($"action={action}\n\n"), SocketFlags.None);
                    }
                }
            });
        }

        public string Address => _listener.LocalEndPoint is IPEndPoint ip ? $"inet:127.0.0.1:{ip.Port}" : $"unix:{_listener.LocalEndPoint}";

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Dispose();
            await _loop;
        }
    }

    /// <summary>A greylisting-style server: defers the first request of each sender/recipient pair, permits later ones.</summary>
    private static Func<Dictionary<string, string>, string?> Greylist()
    {
        var seen = new HashSet<string>();
        return a => seen.Add($"{a["client_address"]}/{a["sender"]}/{a["recipient"]}")
            ? "DEFER_IF_PERMIT Greylisted, see http://postgrey.example/"
            : "DUNNO";
    }

    [Fact]
    public async Task Greylisting_server_defers_the_first_attempt_and_permits_the_retry()
    {
        await using var server = new PolicyServer(new IPEndPoint(IPAddress.Loopback, 0), Greylist());
        string cf = $"smtpd_recipient_restrictions = check_policy_service {server.Address}, permit";
        Assert.Equal("450 4.7.1 <user@example.test>: Recipient address rejected: Greylisted, see http://postgrey.example/",
            await _h.RcptAsync(cf));
        Assert.Null(await _h.RcptAsync(cf));
        var request = server.Requests[0];
        Assert.Equal("smtpd_access_policy", request["request"]);
        Assert.Equal("RCPT", request["protocol_state"]);
        Assert.Equal("ESMTP", request["protocol_name"]);
        Assert.Equal("192.0.2.7", request["client_address"]);
        Assert.Equal("client.example", request["helo_name"]);
        Assert.Equal("someone@sender.example", request["sender"]);
        Assert.Equal("user@example.test", request["recipient"]);
    }

    [Fact]
    public async Task Reject_and_prepend_answers_are_access_actions_over_a_unix_socket()
    {
        string path = Path.Combine(_h.Dir, "policy.sock");
        await using var server = new PolicyServer(new UnixDomainSocketEndPoint(path),
            a => a["sender"].StartsWith("spam", StringComparison.Ordinal) ? "REJECT go away" : "PREPEND X-Policy: checked");
        string cf = $"smtpd_recipient_restrictions = check_policy_service unix:{path}";
        Assert.Equal("554 5.7.1 <user@example.test>: Recipient address rejected: go away", await _h.RcptAsync(cf, sender: "spam@x.example"));
        var d = await _h.DecideAsync(cf, sender: "ham@x.example");
        Assert.Null(d.Reply);
        Assert.Equal(["X-Policy: checked"], d.Prepend);
    }

    [Fact]
    public async Task A_server_that_hangs_up_or_is_down_gets_the_default_action()
    {
        await using var server = new PolicyServer(new IPEndPoint(IPAddress.Loopback, 0), _ => null);
        Assert.Equal("451 4.3.5 <user@example.test>: Recipient address rejected: Server configuration problem",
            await _h.RcptAsync($"smtpd_recipient_restrictions = check_policy_service {server.Address}"));
        Assert.Contains(_h.Lines, l => l.Contains($"warning: problem talking to server {server.Address}"));

        string down = Path.Combine(_h.Dir, "nobody-listens.sock");
        Assert.Null(await _h.RcptAsync(
            $"smtpd_recipient_restrictions = check_policy_service unix:{down}\nsmtpd_policy_service_default_action = DUNNO"));
    }
}
