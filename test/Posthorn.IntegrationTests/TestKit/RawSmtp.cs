using System.Net.Sockets;
using System.Text;

namespace Posthorn.IntegrationTests.TestKit;

/// <summary>An SMTP client that puts exactly the given bytes on the wire, as <c>nc</c> does.</summary>
/// <remarks>
/// Lines end with <see cref="LineEnding"/> (CRLF by default, "\n" to act like a plain nc);
/// <see cref="SendRawAsync(byte[])"/> sends anything at all (NUL bytes, half lines, pipelined
/// batches). Every read has a timeout, and <see cref="Transcript"/> records both directions
/// for failure messages.
/// </remarks>
public sealed class RawSmtp : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly StringBuilder _transcript = new();
    private readonly byte[] _buffer = new byte[8192];
    private readonly List<byte> _pending = [];
    private bool _eof;

    private RawSmtp(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public string LineEnding { get; set; } = "\r\n";
    public TimeSpan ReadTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Extra context for failure messages, e.g. the daemon's stderr and maillog.</summary>
    public Func<string>? Diagnostics { get; set; }

    /// <summary>The greeting read by <see cref="ConnectAsync"/>.</summary>
    public SmtpResponse? Greeting { get; private set; }

    public string Transcript
    {
        get { lock (_transcript) return _transcript.ToString(); }
    }

    /// <summary>Connects to 127.0.0.1:<paramref name="port"/> and, unless told not to, reads the greeting.</summary>
    public static async Task<RawSmtp> ConnectAsync(int port, bool readGreeting = true, Func<string>? diagnostics = null)
    {
        var client = new TcpClient { NoDelay = true };
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15)))
            await client.ConnectAsync("127.0.0.1", port, cts.Token);
        var smtp = new RawSmtp(client) { Diagnostics = diagnostics };
        if (readGreeting) smtp.Greeting = await smtp.ReadReplyAsync();
        return smtp;
    }

    public Task SendLineAsync(string line) => SendRawAsync(line + LineEnding);

    public Task SendRawAsync(string text) => SendRawAsync(Encoding.UTF8.GetBytes(text));

    public async Task SendRawAsync(byte[] bytes)
    {
        Record("C: ", Printable(bytes));
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    /// <summary>Sends one command line and reads its reply.</summary>
    public async Task<SmtpResponse> CommandAsync(string line)
    {
        await SendLineAsync(line);
        return await ReadReplyAsync();
    }

    /// <summary>Sends the message lines (dot-stuffed here unless <paramref name="stuff"/> is false), then the
    /// lone ".", and reads the reply. Call after a 354.</summary>
    public async Task<SmtpResponse> SendDataAsync(string message, bool stuff = true)
    {
        var sb = new StringBuilder();
        foreach (var line in SplitLines(message))
            sb.Append(stuff && line.StartsWith('.') ? "." + line : line).Append(LineEnding);
        sb.Append('.').Append(LineEnding);
        await SendRawAsync(sb.ToString());
        return await ReadReplyAsync();
    }

    /// <summary>One mail transaction that must succeed: MAIL, RCPT…, DATA, message; returns the queue ID.</summary>
    public async Task<string> SendMailAsync(string from, IEnumerable<string> recipients, string message)
    {
        Expect(await CommandAsync($"MAIL FROM:<{from}>"), 250);
        foreach (var rcpt in recipients) Expect(await CommandAsync($"RCPT TO:<{rcpt}>"), 250);
        Expect(await CommandAsync("DATA"), 354);
        var queued = await SendDataAsync(message);
        Expect(queued, 250);
        return queued.QueueId ?? throw Fail($"no queue ID in \"{queued.Last}\"");
    }

    public Task<string> SendMailAsync(string from, string recipient, string message) => SendMailAsync(from, [recipient], message);

    /// <summary>Reads one complete reply, following <c>ddd-</c> continuation lines.</summary>
    public async Task<SmtpResponse> ReadReplyAsync()
    {
        var lines = new List<string>();
        while (true)
        {
            string? line = await ReadLineAsync() ?? throw Fail("connection closed while a reply was expected");
            if (!SmtpResponse.TryParseLine(line, out int code, out bool more))
                throw Fail($"not an SMTP reply line: \"{line}\"");
            lines.Add(line);
            if (!more) return new SmtpResponse(code, lines);
        }
    }

    /// <summary>The next line without its line ending, or null at end of stream.</summary>
    public async Task<string?> ReadLineAsync()
    {
        while (true)
        {
            int nl = _pending.IndexOf((byte)'\n');
            if (nl >= 0)
            {
                int end = nl > 0 && _pending[nl - 1] == '\r' ? nl - 1 : nl;
                string line = Encoding.UTF8.GetString(_pending.GetRange(0, end).ToArray());
                _pending.RemoveRange(0, nl + 1);
                Record("S: ", line + "\n");
                return line;
            }
            if (_eof) return null;
            int n = await ReadSomeAsync();
            if (n == 0)
            {
                _eof = true;
                Record("S: ", "<closed>\n");
                if (_pending.Count > 0) throw Fail("connection closed in the middle of a reply line");
            }
        }
    }

    /// <summary>True when the server closes the connection (end of stream or reset) before the timeout;
    /// false if it sends another line instead.</summary>
    public async Task<bool> IsClosedByServerAsync()
    {
        try
        {
            return await ReadLineAsync() is null;
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>Drops the connection abruptly (RST), as a crashing client would.</summary>
    public void Abort()
    {
        _client.Client.LingerState = new LingerOption(true, 0);
        _client.Close();
    }

    public Exception Fail(string message)
    {
        string extra = Diagnostics is null ? "" : Environment.NewLine + Diagnostics();
        return new Xunit.Sdk.XunitException(
            $"{message}{Environment.NewLine}--- SMTP transcript ---{Environment.NewLine}{Transcript}{extra}");
    }

    /// <summary>Throws with the transcript unless the reply has the expected code.</summary>
    public void Expect(SmtpResponse reply, int code)
    {
        if (reply.Code != code) throw Fail($"expected a {code} reply, got \"{reply}\"");
    }

    /// <summary>Throws with the transcript unless the reply is exactly the expected single line.</summary>
    public void Expect(SmtpResponse reply, string exactLine)
    {
        if (reply.Lines.Count != 1 || reply.Last != exactLine)
            throw Fail($"expected \"{exactLine}\", got \"{reply}\"");
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    public static IEnumerable<string> SplitLines(string message)
    {
        string normalized = message.Replace("\r\n", "\n");
        if (normalized.EndsWith('\n')) normalized = normalized[..^1];
        return normalized.Split('\n');
    }

    private async Task<int> ReadSomeAsync()
    {
        using var cts = new CancellationTokenSource(ReadTimeout);
        int n;
        try
        {
            n = await _stream.ReadAsync(_buffer, cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw Fail($"no reply within {ReadTimeout.TotalSeconds:0} s");
        }
        for (int i = 0; i < n; i++) _pending.Add(_buffer[i]);
        return n;
    }

    private void Record(string direction, string text)
    {
        lock (_transcript)
        {
            foreach (var line in text.Split('\n'))
            {
                if (line.Length == 0) continue;
                _transcript.Append(direction).Append(line.Length > 300 ? line[..300] + $"…({line.Length} chars)" : line).Append('\n');
            }
        }
    }

    private static string Printable(byte[] bytes)
    {
        var sb = new StringBuilder(bytes.Length);
        foreach (byte b in bytes)
        {
            if (b == '\n') sb.Append("\\n\n");
            else if (b == '\r') sb.Append("\\r");
            else if (b is < 0x20 or 0x7F) sb.Append($"\\x{b:X2}");
            else sb.Append((char)b);
        }
        return sb.ToString();
    }
}
