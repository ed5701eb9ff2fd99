using System.Net;
using System.Net.Sockets;
using System.Text;
using Posthorn.Core;
using Posthorn.Daemon.Policy;
using Xunit;

namespace Posthorn.Tests.Policy;

/// <summary>The policy client keeps its connection across requests (SMTPD_POLICY_README, smtpd_policy_service_max_idle/
/// _max_ttl), and the request carries recipient_count and size as SMTPD_POLICY_README lists them.</summary>
public sealed class PolicyClientTests : IDisposable
{
    private readonly PolicyHarness _h = new();

    public void Dispose() => _h.Dispose();

    /// <summary>A policy server that answers any number of requests per connection, as postgrey and policyd-spf do.</summary>
    private sealed class PersistentServer : IAsyncDisposable
    {
        private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private readonly List<Task> _connections = [];
        private int _accepted;
        public int Accepted => Volatile.Read(ref _accepted);
        public List<Dictionary<string, string>> Requests { get; } = [];

        public PersistentServer()
        {
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen();
            _loop = Task.Run(async () =>
            {
                while (true)
                {
                    Socket client;
                    try { client = await _listener.AcceptAsync(_stop.Token); }
                    catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
                    Interlocked.Increment(ref _accepted);
                    lock (_connections) _connections.Add(ServeAsync(client));
                }
            });
        }

        private async Task ServeAsync(Socket client)
        {
            using (client)
            {
                var pending = new StringBuilder();
                var buffer = new byte[1024];
                while (true)
                {
                    int n;
                    try { n = await client.ReceiveAsync(buffer, SocketFlags.None, _stop.Token); }
                    catch (Exception e) when (e is OperationCanceledException or SocketException) { return; }
                    if (n == 0) return;
                    pending.Append(Encoding.UTF8.GetString(buffer, 0, n));
                    string text = pending.ToString();
                    int end;
                    while ((end = text.IndexOf("\n\n", StringComparison.Ordinal)) >= 0)
                    {
                        var attrs = text[..end].Split('\n').Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
                        lock (Requests) Requests.Add(attrs);
                        await client.SendAsync("action=DUNNO\n\n"u8.ToArray(), SocketFlags.None);
                        text = text[(end + 2)..];
                    }
                    pending.Clear().Append(text);
                }
            }
        }

        public string Address => $"inet:127.0.0.1:{((IPEndPoint)_listener.LocalEndPoint!).Port}";

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Dispose();
            await _loop;
            Task[] open;
            lock (_connections) open = [.. _connections];
            await Task.WhenAll(open);
        }
    }

    private static string Request(int i) => $"request=smtpd_access_policy\nprotocol_state=RCPT\nsender=a{i}@example.test\n\n";

    [Fact]
    public async Task Requests_share_one_connection_while_it_is_fresh()
    {
        await using var server = new PersistentServer();
        var client = new PolicyClient(TimeProvider.System, TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(1000));
        for (int i = 0; i < 3; i++)
            Assert.Equal("DUNNO", await client.QueryAsync(server.Address, Request(i), CancellationToken.None));
        Assert.Equal(1, server.Accepted);
        Assert.Equal(1, client.ConnectionsOpened);
        Assert.Equal(["a0@example.test", "a1@example.test", "a2@example.test"], server.Requests.Select(r => r["sender"]).ToArray());
    }

    [Fact]
    public async Task A_zero_max_idle_or_max_ttl_closes_the_connection_after_each_request()
    {
        await using var server = new PersistentServer();
        var noIdle = new PolicyClient(TimeProvider.System, TimeSpan.Zero, TimeSpan.FromSeconds(1000));
        var noTtl = new PolicyClient(TimeProvider.System, TimeSpan.FromSeconds(300), TimeSpan.Zero);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal("DUNNO", await noIdle.QueryAsync(server.Address, Request(i), CancellationToken.None));
            Assert.Equal("DUNNO", await noTtl.QueryAsync(server.Address, Request(i), CancellationToken.None));
        }
        Assert.Equal(2, noIdle.ConnectionsOpened);
        Assert.Equal(2, noTtl.ConnectionsOpened);
    }

    [Fact]
    public async Task Sessions_of_one_configuration_reuse_the_connection_and_data_stage_carries_recipient_count_and_size()
    {
        await using var server = new PersistentServer();
        var s = _h.Configure($"smtpd_recipient_restrictions = check_policy_service {server.Address}, permit\n" +
            $"smtpd_data_restrictions = check_policy_service {server.Address}, permit");
        var sender = SmtpPath.FromAddress("someone@sender.example");
        // Two sessions (two evaluators) of the same snapshot.
        for (int session = 0; session < 2; session++)
        {
            var evaluator = _h.Evaluator(s);
            var rcpt = new PolicyRequest(PolicyHarness.Session(), sender, SmtpPath.FromAddress("user@example.test"), "RCPT")
            {
                RecipientCount = 0,
                Size = 1234,
            };
            Assert.Null((await evaluator.CheckRecipientAsync(rcpt, CancellationToken.None)).Reply);
            var data = new PolicyRequest(PolicyHarness.Session(), sender, null, "DATA") { RecipientCount = 3, Size = 1234 };
            Assert.Null((await evaluator.CheckDataAsync(data, CancellationToken.None)).Reply);
        }
        Assert.Equal(1, server.Accepted);
        Assert.Equal(4, server.Requests.Count);
        // SMTPD_POLICY_README: recipient_count is 0 before DATA; size is the MAIL FROM SIZE= value.
        Assert.Equal(("RCPT", "0", "1234"), (server.Requests[0]["protocol_state"], server.Requests[0]["recipient_count"], server.Requests[0]["size"]));
        Assert.Equal(("DATA", "3", "1234"), (server.Requests[1]["protocol_state"], server.Requests[1]["recipient_count"], server.Requests[1]["size"]));
    }
}
