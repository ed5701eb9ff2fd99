using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Posthorn.Tests.Imap;

/// <summary>A session whose client is gone before the server's output is flushed ends cleanly (SessionEnd).</summary>
public sealed class ImapSessionEndTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_client_that_resets_the_connection_at_once_ends_its_session_cleanly(bool pop3)
    {
        var server = new ImapTestServer();
        for (int i = 0; i < 20; i++)
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await s.ConnectAsync(IPAddress.Loopback, pop3 ? server.Pop3Port : server.ImapPort);
            s.LingerState = new LingerOption(true, 0);
            s.Close();   // RST: the greeting has nowhere to go
        }
        await Poll.Until(() => server.LogSink.Lines.Count(l => l.Contains("Disconnected", StringComparison.Ordinal)) >= 20,
            "twenty sessions ended");
        await server.DisposeAsync();   // waits for every session: none may have failed
    }
}
