using Posthorn.Config;
using Posthorn.Logging;

namespace Posthorn.Daemon.Master;

/// <summary>Chooses the mail log's destination as DESIGN.md says: maillog_file when set, else syslog
/// (<c>/dev/log</c>), else standard error.</summary>
public sealed class LogFactory : IDisposable
{
    private readonly IDisposable? _owned;

    private LogFactory(MailLog log, IDisposable? owned)
    {
        Log = log;
        _owned = owned;
    }

    public MailLog Log { get; }

    public static LogFactory Open(ConfigSnapshot cfg, bool preferStderr = false)
    {
        string file = cfg.Get("maillog_file");
        IMailLogSink sink;
        IDisposable? owned = null;
        if (file.Length > 0)
        {
            var f = new FileLogSink(file);
            (sink, owned) = (f, f);
        }
        else if (!preferStderr && SyslogSink.TryOpen() is { } syslog)
        {
            (sink, owned) = (syslog, syslog);
        }
        else
        {
            sink = new StderrLogSink();
        }
        return new LogFactory(new MailLog(sink, cfg.Get("syslog_name"), cfg.Get("myhostname"), TimeProvider.System), owned);
    }

    public void Dispose() => _owned?.Dispose();
}
