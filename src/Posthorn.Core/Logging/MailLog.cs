using System.Globalization;

namespace Posthorn.Logging;

/// <summary>The mail log: one line per event, in Postfix's format, so that pflogsumm and fail2ban work.</summary>
/// <remarks>
/// A line reads <c>Nov 25 13:17:08 host postfix/smtpd[4242]: connect from localhost[127.0.0.1]</c>.
/// The program part is <c>syslog_name/program</c>; one Posthorn process hosts every service, so
/// every line carries the daemon's PID. Each Postfix program has its own partial file with one
/// method per event (MailLog.Smtpd.cs, MailLog.Cleanup.cs, …); nothing else formats log lines.
/// Never log AUTH payloads or passwords.
/// Parameters: syslog_name, maillog_file (the sink is chosen by the daemon).
/// </remarks>
public sealed partial class MailLog
{
    private readonly IMailLogSink _sink;
    private readonly TimeProvider _clock;
    private readonly int _pid;
    private volatile string _syslogName;
    private volatile string _hostname;

    public MailLog(IMailLogSink sink, string syslogName, string hostname, TimeProvider clock, int? pid = null)
    {
        _sink = sink;
        _clock = clock;
        _syslogName = syslogName;
        _hostname = ShortHostname(hostname);
        _pid = pid ?? Environment.ProcessId;
    }

    /// <summary>A log that drops everything; for tools that only print to the terminal.</summary>
    public static MailLog Discard { get; } = new(new NullSink(), "postfix", "localhost", TimeProvider.System, 0);

    /// <summary><c>reload</c> may change <c>syslog_name</c> and <c>myhostname</c>.</summary>
    public void Reconfigure(string syslogName, string hostname)
    {
        _syslogName = syslogName;
        _hostname = ShortHostname(hostname);
    }

    /// <summary>The same log under another syslog_name, for a master.cf row with <c>-o syslog_name=postfix/submission</c>
    /// (Postfix then logs <c>postfix/submission/smtpd[pid]</c>); this log itself when the name is the same.</summary>
    public MailLog WithSyslogName(string syslogName) =>
        syslogName == _syslogName ? this : new MailLog(_sink, syslogName, _hostname, _clock, _pid);

    public void Info(string program, string text) => Write(LogSeverity.Info, program, text);
    public void Warning(string program, string text) => Write(LogSeverity.Warning, program, "warning: " + text);
    public void Error(string program, string text) => Write(LogSeverity.Error, program, "error: " + text);
    public void Fatal(string program, string text) => Write(LogSeverity.Error, program, "fatal: " + text);

    /// <summary>A line of the Dovecot role (imapd, pop3d, lmtpd) as Dovecot writes it to syslog:
    /// <c>host dovecot[PID]: imap-login: Login: …</c>, so that fail2ban's dovecot filter and Dovecot log tools
    /// match. <paramref name="process"/> is Dovecot's process name (<c>imap-login</c>, <c>imap(alice)</c>).</summary>
    public void DovecotInfo(string process, string text) => WriteTag(LogSeverity.Info, $"dovecot[{_pid}]", $"{process}: {text}");

    private void Write(LogSeverity severity, string program, string text) =>
        WriteTag(severity, $"{_syslogName}/{program}[{_pid}]", text);

    private void WriteTag(LogSeverity severity, string tag, string text)
    {
        var now = _clock.GetLocalNow();
        // syslog(3) timestamp: "Mmm dd hh:mm:ss", day padded with a space.
        string stamp = now.ToString("MMM ", CultureInfo.InvariantCulture) + now.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2)
            + now.ToString(" HH:mm:ss", CultureInfo.InvariantCulture);
        _sink.Write(new MailLogEntry(severity, stamp, _hostname, tag, text));
    }

    private static string ShortHostname(string hostname)
    {
        int dot = hostname.IndexOf('.');
        return dot > 0 ? hostname[..dot] : hostname;
    }

    private sealed class NullSink : IMailLogSink
    {
        public void Write(in MailLogEntry entry) { }
    }
}

public enum LogSeverity { Info, Warning, Error }

/// <summary>One log event; <see cref="Line"/> is the line as it appears in maillog_file.</summary>
public readonly record struct MailLogEntry(LogSeverity Severity, string Timestamp, string Host, string Tag, string Text)
{
    public string Line => $"{Timestamp} {Host} {Tag}: {Text}";
}

public interface IMailLogSink
{
    void Write(in MailLogEntry entry);
}
