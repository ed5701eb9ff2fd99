using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Posthorn.Core;
using Posthorn.Logging;

namespace Posthorn.Smtp;

/// <summary>smtpd(8): one SMTP connection, zero or more mail transactions.</summary>
/// <remarks>
/// Standards: RFC 5321, RFC 1870 (SIZE), RFC 2920 (PIPELINING), RFC 3463 and RFC 2034 (enhanced
/// status codes), RFC 6152 (8BITMIME), RFC 3207 (STARTTLS), RFC 4954 (AUTH PLAIN and LOGIN), RFC 2195 (CRAM-MD5), RFC 3848
/// (ESMTPS/ESMTPA in Received:), RFC 3030 (CHUNKING, without BINARYMIME),
/// RFC 3461 (DSN parameters), RFC 6531 (SMTPUTF8).
/// Security: talks to untrusted peers. Every read is bounded: command lines by line_length_limit
/// (the rest of an overlong line is skipped, as Postfix does), message content is streamed to the
/// sink in chunks of at most <see cref="DataChunkSize"/> bytes, every wait for the client by
/// smtpd_timeout. Client text reaches the log only through <see cref="SmtpCommandParser.Printable"/>.
/// Parameters (via <see cref="SmtpServerOptions"/>): myhostname, smtpd_banner, mail_name,
/// message_size_limit, line_length_limit, smtpd_timeout, smtpd_recipient_limit,
/// smtpd_soft_error_limit, smtpd_hard_error_limit, disable_vrfy_command, smtpd_discard_ehlo_keywords,
/// smtpd_forbid_bare_newline_exclusions (as <see cref="SmtpServerOptions.AllowBareLf"/>), smtpd_tls_security_level,
/// smtpd_tls_auth_only, smtpd_tls_protocols, smtpd_tls_loglevel, smtpd_tls_received_header,
/// smtpd_tls_wrappermode, smtpd_sasl_auth_enable, smtpd_sasl_security_options,
/// smtpd_sasl_tls_security_options, broken_sasl_auth_clients, smtpd_sasl_authenticated_header, smtputf8_enable.
/// Lifetime: <see cref="RunAsync"/> greets, serves until QUIT, end of input, timeout, the error limit
/// or shutdown, logs <c>connect</c>/<c>disconnect</c>, and disposes the stream before it returns.
/// It does not throw for anything the client does; our own failures end the session with 421 4.3.0.
/// On shutdown the client gets <c>421 4.3.2 host Service shutting down</c> (see <see cref="SmtpReplies.ShuttingDown"/>).
/// </remarks>
public sealed partial class SmtpServerSession
{

    /// <summary>The connection; replaced by an <see cref="System.Net.Security.SslStream"/> over it after STARTTLS.</summary>
    private Stream _stream;
    private readonly SmtpSessionInfo _info;
    private readonly SmtpServerOptions _options;
    private readonly ISmtpTransactionSink _sink;
    private readonly MailLog _log;
    private readonly TimeProvider _clock;
    private readonly SmtpCommandCounters _counters = new();
    /// <summary>The history for the notify_classes postmaster notice; null when no class smtpd raises is wanted.</summary>
    private readonly SmtpSessionTranscript? _transcript;

    private PipeReader _input = null!;
    private PipeWriter _output = null!;
    private CancellationTokenSource _timeout = null!;
    private CancellationToken _ct;

    private SmtpTransaction? _tx;
    private DateTimeOffset _arrival;
    private int _errorCount;
    private int _junkCommands;
    private bool _hangup;
    private bool _outputPending;
    /// <summary>Postfix state->where: the last command recognized, CONNECT before any, END-OF-MESSAGE after the dot.</summary>
    private string _where = "CONNECT";
    private long _dataBytes;
    /// <summary>Postfix state->reason: why the session ended abnormally (null after QUIT).</summary>
    private string? _reason;

    public SmtpServerSession(Stream stream, SmtpSessionInfo info, SmtpServerOptions options, ISmtpTransactionSink sink,
        MailLog log, TimeProvider clock)
    {
        _stream = stream;
        _info = info;
        _options = options;
        _sink = sink;
        _log = log;
        _clock = clock;
        if (options.NotifyClasses != SmtpErrorClasses.None)
            _transcript = new SmtpSessionTranscript(options.NotifyClasses, options.HistoryFlushThreshold);
    }

    private string Client => _info.ClientDescription;

    /// <summary>Serves the connection to its end; see the type's remarks.</summary>
    public async Task RunAsync(CancellationToken shutdown)
    {
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
        _output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true));
        bool wrapperMode = _options.TlsWrapperMode;
        if (wrapperMode)
        {
            // The plain pipes are never used: the handshake below builds its own over the SslStream.
            await _input.CompleteAsync();
            await _output.CompleteAsync();
        }
        using var timeout = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(shutdown, timeout.Token);
        _timeout = timeout;
        _ct = linked.Token;
        _log.SmtpdConnect(Client);
        try
        {
            // posthorn_pregreet_action/_wait (postscreen(8)-like): plain connections only; under TLS wrapper mode the
            // client rightly speaks first (its ClientHello).
            if (!wrapperMode ? await PregreetAsync() : await WrapperModeHandshakeAsync())
            {
                await ReplyAsync(SmtpReplies.Greeting(_options.Banner));
                await CommandLoopAsync();
            }
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            await FinalReplyAsync(SmtpReplies.ShuttingDown(_options.Hostname));
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            _reason = "timeout";   // Postfix smtpd_proto: SMTP_ERR_TIME
            await FinalReplyAsync(SmtpReplies.TimeoutExceeded(_options.Hostname));
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            _reason = "lost connection";   // Postfix smtpd_proto: SMTP_ERR_EOF
        }
        catch (Exception e)
        {
            // C15: the one boundary for our own failures (a bug, or the sink broke or gave up): log, 421, close.
            _log.SmtpdSessionFailed(Client, $"{e.GetType().Name}: {e.Message}");
            _transcript?.Error(SmtpErrorClasses.Software);
            await FinalReplyAsync(SmtpReplies.LocalError(_options.Hostname));
        }
        finally
        {
            await EndTransactionAsync();
            await _input.CompleteAsync();
            await CloseOutputAsync();
            await _stream.DisposeAsync();
        }
        // Postfix smtpd.c: "Don't complain about clients that go away without sending QUIT" after the dot.
        if (_reason is not null && !(_where == "END-OF-MESSAGE" && _reason == "lost connection"))
            _log.SmtpdSessionAborted(_reason, _where is "DATA" or "BDAT" ? $"{_where} ({_dataBytes} bytes)" : _where, Client);
        await FlushHistoryAsync(sessionEnd: true);
        _log.SmtpdDisconnect(Client, _counters.ToString());
    }

    private async Task CommandLoopAsync()
    {
        while (!_hangup)
        {
            // Postfix smtpd_proto: the hard limit is checked before each command is read.
            if (_errorCount >= _options.HardErrorLimit)
            {
                _reason = "too many errors";
                _transcript?.Error(SmtpErrorClasses.Protocol);
                await ReplyAsync(SmtpReplies.TooManyErrors(_options.Hostname));
                break;
            }
            var line = await ReadCommandLineAsync();
            if (line.Status == LineStatus.EndOfInput)
            {
                _reason = "lost connection";
                break;
            }
            if (line.Status == LineStatus.Line) _transcript?.In(line.Text.Span);
            if (line.Status == LineStatus.BareLf)
            {
                // The command is not executed; with 521 the session ends (_hangup).
                await BareLfAsync();
                continue;
            }
            await DispatchAsync(line.Text);
        }
        await FlushAsync();
    }

    /// <summary>smtpd_forbid_bare_newline for a client outside smtpd_forbid_bare_newline_exclusions (Postfix 3.9
    /// default <c>normalize</c>); an excluded client (<see cref="SmtpServerOptions.AllowBareLf"/>) gets <c>no</c>.</summary>
    public BareNewlineMode BareNewline { get; init; } = BareNewlineMode.Normalize;

    /// <summary>smtpd_forbid_bare_newline_reject_code (Postfix 3.9 default 550; 521 also disconnects).</summary>
    public short BareNewlineRejectCode { get; init; } = 550;

    private BareNewlineMode BareLfMode => _options.AllowBareLf ? BareNewlineMode.No : BareNewline;

    /// <summary>Whether a bare LF ends a line (normalize, no); with reject it is refused.</summary>
    private bool BareLfEndsLine => BareLfMode != BareNewlineMode.Reject;

    /// <summary>Reject mode with a 521 code: the bare LF is answered at once and the session ends.</summary>
    private bool BareLfDisconnects => BareLfMode == BareNewlineMode.Reject && BareNewlineRejectCode == 521;

    /// <summary>Postfix 3.9 smtpd_forbid_bare_newline = reject: "%d 5.5.2 %s Error: bare &lt;LF&gt; received" with
    /// smtpd_forbid_bare_newline_reject_code; a 521 ends the session (postconf(5): "521 to disconnect").</summary>
    private async ValueTask BareLfAsync()
    {
        var reply = new SmtpReply(BareNewlineRejectCode, BareNewlineRejectCode / 100 == 4 ? "4.5.2" : "5.5.2",
            $"{_options.Hostname} Error: bare <LF> received");
        if (SmtpReplies.EndsSession(reply)) _reason = "bare <LF> received";
        else _errorCount++;
        await ReplyAsync(reply);
    }

    private async ValueTask DispatchAsync(ReadOnlyMemory<byte> line)
    {
        var verb = SmtpCommandParser.ParseVerb(line.Span, out Range verbRange, out Range argRange);
        // Postfix: an empty line, or one with NUL in it (the C tokenizer would cut it there), is "bad syntax".
        if (line[verbRange].IsEmpty || line.Span.Contains((byte)0))
        {
            _errorCount++;
            await ReplyAsync(SmtpReplies.BadSyntax);
            return;
        }
        if (IsBadUtf8(line.Span))
        {
            _errorCount++;
            await ReplyAsync(SmtpReplies.BadUtf8Syntax);
            return;
        }
        var args = line[argRange];
        if (verb == SmtpVerb.Unknown)
        {
            _where = "UNKNOWN";
            if (SmtpCommandParser.IsNonSmtpCommand(line[verbRange].Span))
            {
                var text = SmtpCommandParser.Printable(line.Span);
                _log.SmtpdNonSmtpCommand(Client, text.Length > 100 ? text[..100] : text);
                await ReplyAsync(SmtpReplies.NonSmtpCommand);
                _hangup = true;
                return;
            }
            _counters.Record(SmtpVerb.Unknown, ok: false);
            _errorCount++;
            await ReplyAsync(SmtpReplies.CommandNotRecognized);
            return;
        }
        _where = verb.ToString().ToUpperInvariant();
        CheckPipelining(verb);   // Postfix reject_unauth_pipelining (SmtpServerSession.Pipelining.cs)
        if (await RefusePregreeterAsync(verb)) return;
        if (_options.TlsSecurityLevel == SmtpTlsSecurityLevel.Encrypt && !_info.IsTls && !AllowedBeforeTls(verb))
        {
            // Postfix smtpd.c: smtpd_tls_security_level = encrypt refuses the rest until STARTTLS.
            await ReplyAsync(SmtpReplies.MustIssueStartTls);
            _counters.Record(verb, ok: false);
            _errorCount++;
            return;
        }
        // RFC 3030 §4.1 / Postfix: once BDAT has begun, the transaction takes only more BDAT (or RSET).
        if (_bdat is not null && verb is SmtpVerb.Mail or SmtpVerb.Rcpt or SmtpVerb.Data)
        {
            await ReplyAsync(verb switch
            {
                SmtpVerb.Mail => SmtpReplies.MailAfterBdat,
                SmtpVerb.Rcpt => SmtpReplies.RcptAfterBdat,
                _ => SmtpReplies.DataAfterBdat,
            });
            _counters.Record(verb, ok: false);
            _errorCount++;
            return;
        }
        // Postfix smtpd.c, smtpd_junk_command_limit: past the limit, every NOOP, VRFY, ETRN or RSET counts as an
        // error (so a client cannot idle for ever on junk; the error limits then slow it down and end it). A delivered
        // message forgives them, as it forgives errors, so a cached client session's RSETs never add up.
        if (verb is SmtpVerb.Noop or SmtpVerb.Vrfy or SmtpVerb.Etrn or SmtpVerb.Rset && ++_junkCommands > _options.JunkCommandLimit)
            _errorCount++;
        bool ok = verb switch
        {
            SmtpVerb.StartTls => await StartTlsAsync(args),
            SmtpVerb.Auth => await AuthAsync(args),
            SmtpVerb.Helo => await HeloAsync(args, extended: false),
            SmtpVerb.Ehlo => await HeloAsync(args, extended: true),
            SmtpVerb.Mail => await MailAsync(args),
            SmtpVerb.Rcpt => await RcptAsync(args),
            SmtpVerb.Data => await DataAsync(args),
            SmtpVerb.Bdat => await BdatAsync(args),
            SmtpVerb.Rset => await RsetAsync(args),
            SmtpVerb.Noop => await NoopAsync(),
            SmtpVerb.Vrfy => await VrfyAsync(args),
            SmtpVerb.Etrn => await EtrnAsync(args),
            _ => await QuitAsync(),
        };
        _counters.Record(verb, ok);
        if (!ok) _errorCount++;
        // Postfix smtpd.c: chat_reset(state, var_smtpd_hist_thrsh) after HELO/EHLO, RSET and DATA (here also BDAT LAST).
        if (verb is SmtpVerb.Helo or SmtpVerb.Ehlo or SmtpVerb.Rset or SmtpVerb.Data || verb == SmtpVerb.Bdat && _bdat is null)
            await FlushHistoryAsync(sessionEnd: false);
    }

    /// <summary>soft_bounce (postconf(5)): every 5xx reply goes out as 4xx.</summary>
    public bool SoftBounce { get; init; }

    /// <summary>Queues one reply; it goes out with the next flush, which happens when the client's
    /// batch of pipelined commands is used up (RFC 2920 §3.1: the server may buffer replies).</summary>
    private async ValueTask ReplyAsync(SmtpReply reply)
    {
        // Postfix smtpd_chat.c: once the soft error limit is reached, sleep before every reply.
        if (_errorCount >= _options.SoftErrorLimit && _errorCount > 0)
        {
            await FlushAsync();
            await Task.Delay(_options.ErrorSleepTime, _clock, _ct);
        }
        reply = SoftBounced(reply);
        string wire = SmtpReplies.Format(reply);
        if (_transcript is { } history)
        {
            history.Out(wire);
            // Postfix smtpd.c: syntax errors, unknown commands, bad sequence, "not implemented" are protocol errors.
            if (reply.Code is >= 500 and <= 504 or 521) history.Error(SmtpErrorClasses.Protocol);
        }
        int written = Encoding.UTF8.GetBytes(wire, _output.GetSpan(Encoding.UTF8.GetMaxByteCount(wire.Length)));
        _output.Advance(written);
        _outputPending = true;
        if (SmtpReplies.EndsSession(reply)) _hangup = true;   // Postfix smtpd_chat.c: orderly disconnect after 421/521.
    }

    /// <summary>Postfix smtpd_chat.c "soft bounce safety net": under soft_bounce 5xx becomes 4xx, the DSN class follows
    /// (550 5.1.1 → 450 4.1.1). smtpd_check.c applies it to the "reject" log line too, so that the log shows the reply
    /// the client got.</summary>
    private SmtpReply SoftBounced(SmtpReply reply) => SoftBounce && reply.Code is >= 500 and < 600
        ? reply with { Code = (short)(reply.Code - 100), Status = reply.Status.Class == 5 ? reply.Status with { Class = 4 } : reply.Status }
        : reply;

    private async ValueTask FlushAsync()
    {
        if (!_outputPending) return;
        _outputPending = false;
        _timeout.CancelAfter(_options.Timeout);
        await _output.FlushAsync(_ct);
        _timeout.CancelAfter(Timeout.InfiniteTimeSpan);
    }

    /// <summary>Completes the reply pipe. After a timeout or a lost connection, replies may still be buffered for a
    /// client that does not read them; completing would flush them with no time limit, so the stream is closed
    /// first and what is left is dropped (C9: every write is bounded by smtpd_timeout).</summary>
    private async ValueTask CloseOutputAsync()
    {
        if (_reason is not null) await _stream.DisposeAsync();
        try
        {
            await _output.CompleteAsync();
            // RFC 8446 §6.1 / RFC 5246 §7.2.1: an orderly close sends close_notify (Postfix: SSL_shutdown), else
            // clients such as openssl s_client report "unexpected eof". Bounded, as the client may not read it.
            if (_reason is null && _stream is System.Net.Security.SslStream ssl)
                await ssl.ShutdownAsync().WaitAsync(_options.Timeout, _clock);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException
            or InvalidOperationException or TimeoutException)
        {
            // The connection is gone or was closed above: nothing more can be sent.
        }
    }

    /// <summary>The last reply of a session that is ending for a reason of its own (timeout, shutdown,
    /// our failure): best effort, within a fresh smtpd_timeout, since the client may be gone.</summary>
    private async ValueTask FinalReplyAsync(SmtpReply reply)
    {
        using var deadline = new CancellationTokenSource(_options.Timeout, _clock);
        try
        {
            string wire = SmtpReplies.Format(reply);
            _transcript?.Out(wire);
            await _output.WriteAsync(Encoding.UTF8.GetBytes(wire), deadline.Token);
            _outputPending = false;
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or InvalidOperationException)
        {
            // The client went away or stopped reading: there is no one left to tell.
            _reason ??= "lost connection";
        }
    }

    /// <summary>Postfix smtpd.c chat_reset: the history goes to the postmaster when it holds an error of a class in
    /// notify_classes, and is cleared, at the session's end, or after HELO/EHLO, RSET and the end of DATA once it holds
    /// more than smtpd_history_flush_threshold lines.</summary>
    private async ValueTask FlushHistoryAsync(bool sessionEnd)
    {
        if (_transcript is not { } history || !(sessionEnd || history.OverThreshold)) return;
        if (history.ShouldNotify)
        {
            string body = SmtpSessionTranscript.NoticeBody(history.Lines, sessionEnd ? _reason : null);
            await _sink.NotifyPostmasterAsync(_info, history.Errors, body, CancellationToken.None);
        }
        history.Reset();
    }

    /// <summary>Ends the transaction, if any: an uncommitted writer is disposed, which removes its file.</summary>
    private async ValueTask EndTransactionAsync()
    {
        var writer = _tx?.Writer;
        _tx = null;
        _bdat = null;
        ReleaseChunk();
        if (writer is not null) await writer.DisposeAsync();
    }
}
