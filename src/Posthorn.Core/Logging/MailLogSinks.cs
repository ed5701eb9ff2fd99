using System.Net.Sockets;
using System.Text;

namespace Posthorn.Logging;

/// <summary>Appends lines to <c>maillog_file</c>. Each line is one write(2) to an O_APPEND file, so
/// several writers (daemon and a one-shot tool) interleave whole lines.</summary>
public sealed class FileLogSink : IMailLogSink, IDisposable
{
    private readonly FileStream _file;
    private readonly Lock _gate = new();

    public FileLogSink(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 1);
    }

    public void Write(in MailLogEntry entry)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(entry.Line + "\n");
        lock (_gate)
        {
            _file.Write(bytes);
            _file.Flush();
        }
    }

    public void Dispose() => _file.Dispose();
}

/// <summary>Writes lines to standard error, as Postfix's <c>postfix start-fg</c> does without syslog.</summary>
public sealed class StderrLogSink(TextWriter? writer = null) : IMailLogSink
{
    private readonly TextWriter _writer = writer ?? Console.Error;
    private readonly Lock _gate = new();

    public void Write(in MailLogEntry entry)
    {
        lock (_gate) _writer.WriteLine(entry.Line);
    }
}

/// <summary>Sends lines to the local syslog daemon over <c>/dev/log</c> (RFC 3164 format, facility mail).</summary>
public sealed class SyslogSink : IMailLogSink, IDisposable
{
    private readonly Socket _socket;
    private readonly Lock _gate = new();

    private SyslogSink(Socket socket) => _socket = socket;

    /// <summary>Returns null when no syslog daemon listens on <paramref name="path"/>.</summary>
    public static SyslogSink? TryOpen(string path = "/dev/log")
    {
        if (!File.Exists(path) && !Directory.Exists(path) && !Path.Exists(path)) return null;
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return new SyslogSink(socket);
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
    }

    public void Write(in MailLogEntry entry)
    {
        // RFC 3164 §4.1.1: PRI = facility * 8 + severity; mail = 2; info = 6, warning = 4, err = 3.
        int pri = 2 * 8 + entry.Severity switch { LogSeverity.Warning => 4, LogSeverity.Error => 3, _ => 6 };
        byte[] bytes = Encoding.UTF8.GetBytes($"<{pri}>{entry.Timestamp} {entry.Tag}: {entry.Text}");
        lock (_gate)
        {
            try { _socket.Send(bytes); }
            catch (SocketException) { /* syslog went away: the line is lost, as with syslog(3). */ }
        }
    }

    public void Dispose() => _socket.Dispose();
}

/// <summary>Keeps lines in memory; for unit tests of components that log.</summary>
public sealed class MemoryLogSink : IMailLogSink
{
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines { get { lock (_lines) return _lines.ToArray(); } }

    public void Write(in MailLogEntry entry)
    {
        lock (_lines) _lines.Add($"{entry.Tag}: {entry.Text}");
    }
}
