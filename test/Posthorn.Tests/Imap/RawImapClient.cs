using System.Net.Sockets;
using System.Text;
using Xunit;

namespace Posthorn.Tests.Imap;

/// <summary>A client that talks IMAP as nc would, for tests that check the exact response lines.</summary>
internal sealed class RawImapClient : IDisposable
{
    private readonly TcpClient _tcp = new();
    private StreamReader _reader = null!;
    private Stream _stream = null!;
    private int _tag;

    /// <summary>Connects to <paramref name="server"/>, reads the greeting and logs in as alice.</summary>
    public static async Task<RawImapClient> LoginAsync(ImapTestServer server)
    {
        var raw = new RawImapClient();
        await raw._tcp.ConnectAsync("127.0.0.1", server.ImapPort);
        raw._stream = raw._tcp.GetStream();
        raw._reader = new StreamReader(raw._stream, Encoding.Latin1);
        Assert.StartsWith("* OK", await raw._reader.ReadLineAsync());
        Assert.Contains(" OK", await raw.SendAsync("LOGIN alice secret"));
        return raw;
    }

    /// <summary>Sends one command; returns every line up to and including the tagged one.</summary>
    public async Task<string> SendAsync(string command)
    {
        string tag = "t" + ++_tag;
        await _stream.WriteAsync(Encoding.ASCII.GetBytes(tag + " " + command + "\r\n"));
        var sb = new StringBuilder();
        while (await _reader.ReadLineAsync() is { } line)
        {
            sb.Append(line).Append('\n');
            if (line.StartsWith(tag + " ", StringComparison.Ordinal)) return sb.ToString();
        }
        throw new IOException("connection closed: " + sb);
    }

    public void Dispose() => _tcp.Dispose();
}
