using System.IO.Pipelines;
using Posthorn.Imap.Auth;
using Posthorn.Logging;
using Posthorn.Store;

namespace Posthorn.Imap;

/// <summary>imapd: one IMAP connection (Dovecot's imap-login and imap processes in one).</summary>
/// <remarks>
/// Standards: RFC 9051 (IMAP4rev2) and RFC 3501 (IMAP4rev1), RFC 7888 (LITERAL+), RFC 4959 (SASL-IR),
/// RFC 4616 (PLAIN), RFC 5802/RFC 7677 (SCRAM-SHA-1, SCRAM-SHA-256), RFC 2177 (IDLE), RFC 5161 (ENABLE), RFC 2971 (ID), RFC 4315 (UIDPLUS),
/// RFC 6851 (MOVE), RFC 3691 (UNSELECT), RFC 7889 (APPENDLIMIT), RFC 2342 (NAMESPACE), RFC 8314 (implicit TLS).
/// RFC 5258 (LIST-EXTENDED), RFC 5819 (LIST-STATUS), RFC 6154 (SPECIAL-USE).
/// STARTTLS (RFC 9051 §6.2.1) when a certificate is configured; LOGINDISABLED where plaintext logins are refused.
/// RFC 7162 CONDSTORE (MODSEQ in FETCH and SEARCH, CHANGEDSINCE, UNCHANGEDSINCE, HIGHESTMODSEQ) and QRESYNC
/// (SELECT … (QRESYNC …), UID FETCH … (CHANGEDSINCE n VANISHED), VANISHED responses).
/// Not offered: BINARY, multi-APPEND, ESEARCH beyond IMAP4rev2's, CREATE-SPECIAL-USE.
/// Security: talks to untrusted peers. Lines are bounded by imapd_max_line_length and literals by
/// imapd_max_literal_size before they are read; every wait for the client by imapd_timeout; a user
/// only reaches the Maildir that <see cref="IImapUserResolver"/> returns; passwords are never logged.
/// Lifetime: <see cref="RunAsync"/> greets, serves until LOGOUT, end of input, timeout or shutdown,
/// logs in Dovecot's words, and disposes the stream.
/// </remarks>
public sealed partial class ImapServerSession
{
    private const string Delimiter = ".";

    private Stream _stream;
    private ImapSessionOptions _options;
    private readonly IMailStore _store;
    private readonly IImapUserResolver _users;
    private readonly MailLog _log;
    private readonly TimeProvider _clock;

    private PipeReader _input = null!;
    private PipeWriter _output = null!;
    private ImapResponseWriter _w = null!;
    private CancellationTokenSource _timeout = null!;
    private CancellationToken _ct;
    private long _bytesIn;
    private long _bytesOutBeforeTls;

    private ImapUser? _user;
    private IMailAccount? _account;
    private IMailbox? _box;
    private int _announcedExists;
    private bool _rev2;
    private bool _utf8;
    /// <summary>RFC 7162 §3.1: a CONDSTORE-enabling command was seen; untagged FETCH then carry MODSEQ.</summary>
    private bool _condstore;
    private bool _logout;
    private int _authAttempts;
    /// <summary>The last failed login's user and method, for the disconnect line (Dovecot's shape).</summary>
    private (string User, string? Method) _failedLogin = ("", null);
    private DateTimeOffset _start;

    public ImapServerSession(Stream stream, ImapSessionOptions options, IMailStore store, IImapUserResolver users,
        MailLog log, TimeProvider clock)
    {
        _stream = stream;
        _options = options;
        _store = store;
        _users = users;
        _log = log;
        _clock = clock;
    }

    /// <summary>Serves the connection to its end; see the type's remarks.</summary>
    public async Task RunAsync(CancellationToken shutdown)
    {
        AttachPipes(_stream);
        using var timeout = new CancellationTokenSource(System.Threading.Timeout.InfiniteTimeSpan, _clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(shutdown, timeout.Token);
        _timeout = timeout;
        _ct = linked.Token;
        _start = _clock.GetUtcNow();
        string endReason = "Connection closed";
        try
        {
            if (_options.TlsWrapperMode && !await WrapperModeHandshakeAsync()) return;
            _w.Ascii($"* OK [CAPABILITY {Capabilities()}] Posthorn ready.").Crlf();
            await FlushAsync();
            while (!_logout)
            {
                var command = await ReadCommandAsync();
                if (command is null) break;
                if (command.Length == 0) continue;
                await HandleAsync(command);
            }
            if (_logout) endReason = "Logged out";
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            endReason = "Inactivity";
            await TryWriteAsync("* BYE Disconnected for inactivity.");
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            endReason = "Server shutting down";
            await TryWriteAsync("* BYE Server shutting down.");
        }
        catch (IOException)
        {
            endReason = "Connection closed";
        }
        catch (LineTooLongException)
        {
            endReason = "Too long argument";
            await TryWriteAsync("* BYE Too long argument.");
        }
        catch (Exception e) when (e is UnauthorizedAccessException or System.Data.Common.DbException)
        {
            // A failure of ours (the mailbox cannot be opened or written, the index is unusable): Dovecot's words.
            endReason = "Internal error occurred";
            _log.ImapError("imap", _user?.Name ?? "", $"{e.GetType().Name}: {e.Message}");
            await TryWriteAsync("* BYE Internal error occurred. Refer to server log for more information.");
        }
        finally
        {
            if (_box is not null) await _box.DisposeAsync();
            if (_user is null)
            {
                string reason = _authAttempts > 0
                    ? $"auth failed, {_authAttempts} attempts in {Seconds()} secs"
                    : $"no auth attempts in {Seconds()} secs";
                _log.ImapLoginDisconnected("imap", reason, _failedLogin.User, _failedLogin.Method, _options.RemoteIp, _options.LocalIp,
                    _options.SecurityLabel, _options.SessionId);
            }
            else
            {
                _log.ImapSessionEnd("imap", _user.Name, endReason, $"in={_bytesIn} out={_bytesOutBeforeTls + _w.BytesWritten}");
            }
            await SessionEnd.CloseAsync(_input, _output, _stream);
        }
    }

    private long Seconds() => (long)(_clock.GetUtcNow() - _start).TotalSeconds;

    private async Task TryWriteAsync(string line)
    {
        try
        {
            _w.Ascii(line).Crlf();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5), _clock);
            await _output.FlushAsync(cts.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The peer is gone; nothing more to tell it.
        }
    }

    private async ValueTask FlushAsync() => await _output.FlushAsync(_ct);

    private string Capabilities()
    {
        var caps = new List<string> { "IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE" };
        if (_user is null)
        {
            // RFC 9051 §6.2.1: STARTTLS only before login, and not once TLS is on.
            if (_options.StartTlsOffered) caps.Add("STARTTLS");
            // RFC 9051 §6.2.3: LOGINDISABLED when LOGIN would be refused on this connection.
            caps.Add(_options.PlaintextAllowed ? "AUTH=PLAIN" : "LOGINDISABLED");
            // SCRAM sends no password: offered with or without TLS when the user database can serve it.
            caps.AddRange(ScramCapabilities());
        }
        else
        {
            caps.AddRange(["NAMESPACE", "UIDPLUS", "MOVE", "UNSELECT", "CHILDREN", "UTF8=ACCEPT",
                "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CONDSTORE", "QRESYNC",
                "APPENDLIMIT=" + _options.MaxLiteralSize.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }
        return string.Join(' ', caps);
    }

    /// <summary>The outcome of a command: the tagged response line's status, response code and text.</summary>
    private readonly record struct Result(string Status, string? Code, string Text)
    {
        public static Result Ok(string text, string? code = null) => new("OK", code, text);
        public static Result No(string text, string? code = null) => new("NO", code, text);
        public static Result Bad(string text) => new("BAD", null, text);
    }

    private async Task HandleAsync(byte[] raw)
    {
        if (!ImapCommandParser.TryParse(raw, out var cmd, out string tag, out string error))
        {
            _w.Ascii($"{tag} BAD {error}").Crlf();
            await FlushAsync();
            return;
        }
        bool uid = false;
        string name = cmd.Name;
        var args = cmd.Args;
        if (name == "STARTTLS" && _user is null)
        {
            await StartTlsAsync(cmd.Tag, args);
            return;
        }
        if (name == "UID" && args.Count > 0 && args[0].Kind == ImapTokenKind.Atom)
        {
            uid = true;
            name = args[0].Text.ToUpperInvariant();
            args = args.Skip(1).ToList();
        }
        var result = await RunCommandAsync(cmd.Tag, name, args, uid);
        _w.Ascii(cmd.Tag).Raw(" "u8).Ascii(result.Status).Raw(" "u8);
        if (result.Code is not null) _w.Ascii("[" + result.Code + "] ");
        _w.Ascii(result.Text).Crlf();
        await FlushAsync();
    }

    private ValueTask<Result> ExecuteAsync(string tag, string name, IReadOnlyList<ImapToken> args, bool uid)
    {
        switch (name)
        {
            case "CAPABILITY":
                _w.Ascii("* CAPABILITY " + Capabilities()).Crlf();
                return Done(Result.Ok("Capability completed."));
            case "NOOP":
                return Done(Result.Ok("NOOP completed."));
            case "LOGOUT":
                _logout = true;
                _w.Ascii("* BYE Logging out").Crlf();
                return Done(Result.Ok("Logout completed."));
            case "ID":
                // RFC 2971 §3.1: the server's own parameters, or NIL.
                _w.Ascii("* ID (\"name\" \"Posthorn\")").Crlf();
                return Done(Result.Ok("ID completed."));
        }
        if (_user is null)
        {
            return name switch
            {
                "LOGIN" => LoginAsync(args),
                "AUTHENTICATE" => AuthenticateAsync(args),
                _ => Done(Result.Bad(IsKnown(name) ? "Please log in first." : "Unknown command.")),
            };
        }
        if (MalformedMailboxName(name, args) is { } refusal) return Done(Result.No(refusal));
        switch (name)
        {
            case "LOGIN" or "AUTHENTICATE": return Done(Result.Bad("Already logged in."));
            case "STARTTLS": return Done(Result.Bad("STARTTLS is only valid before login."));
            case "ENABLE": return Done(Enable(args));
            case "SELECT": return SelectAsync(args, readOnly: false);
            case "EXAMINE": return SelectAsync(args, readOnly: true);
            case "CREATE": return Done(Create(args));
            case "DELETE": return Done(Delete(args));
            case "RENAME": return Done(Rename(args));
            case "SUBSCRIBE": return Done(Subscribe(args, true));
            case "UNSUBSCRIBE": return Done(Subscribe(args, false));
            case "LIST": return ListAsync(args, lsub: false);
            case "LSUB": return ListAsync(args, lsub: true);
            case "NAMESPACE":
                _w.Ascii("* NAMESPACE ((\"\" \".\")) NIL NIL").Crlf();
                return Done(Result.Ok("Namespace completed."));
            case "STATUS": return StatusAsync(args);
            case "APPEND": return AppendAsync(args);
            case "IDLE": return IdleAsync();
        }
        if (_box is null) return Done(Result.Bad(IsKnown(name) ? "No mailbox selected." : "Unknown command."));
        return name switch
        {
            "CHECK" => Done(Result.Ok("Check completed.")),
            "CLOSE" => CloseAsync(expunge: true),
            "UNSELECT" => CloseAsync(expunge: false),
            "EXPUNGE" => ExpungeAsync(args, uid),
            "SEARCH" => SearchAsync(tag, args, uid),
            "FETCH" => FetchAsync(args, uid),
            "STORE" => StoreAsync(args, uid),
            "COPY" => CopyAsync(args, uid, move: false),
            "MOVE" => CopyAsync(args, uid, move: true),
            _ => Done(Result.Bad("Unknown command.")),
        };
    }

    private static bool IsKnown(string name) => name is "ENABLE" or "SELECT" or "EXAMINE" or "CREATE" or "DELETE"
        or "RENAME" or "SUBSCRIBE" or "UNSUBSCRIBE" or "LIST" or "LSUB" or "NAMESPACE" or "STATUS" or "APPEND"
        or "IDLE" or "CHECK" or "CLOSE" or "UNSELECT" or "EXPUNGE" or "SEARCH" or "FETCH" or "STORE" or "COPY" or "MOVE";

    private static ValueTask<Result> Done(Result r) => ValueTask.FromResult(r);

    /// <summary>The NO text when a mailbox name among the arguments of <paramref name="name"/> is not well formed
    /// (<see cref="MailboxNameRules"/>), before the command touches the store; null when all are.</summary>
    private string? MalformedMailboxName(string name, IReadOnlyList<ImapToken> args)
    {
        var (first, count) = name switch
        {
            "SELECT" or "EXAMINE" or "CREATE" or "DELETE" or "SUBSCRIBE" or "UNSUBSCRIBE" or "STATUS" or "APPEND" => (0, 1),
            "RENAME" => (0, 2),
            "COPY" or "MOVE" => (1, 1),
            _ => (0, 0),
        };
        for (int i = first; i < first + count && i < args.Count; i++)
        {
            if (args[i].Kind == ImapTokenKind.List) continue;
            if (MailboxNameRules.Check(args[i].Text, _utf8) is { } error) return error;
        }
        return null;
    }

    private Result Enable(IReadOnlyList<ImapToken> args)
    {
        var enabled = new List<string>();
        foreach (var a in args)
        {
            string cap = a.Text.ToUpperInvariant();
            if (cap == "IMAP4REV2" && !_rev2) { _rev2 = true; enabled.Add("IMAP4rev2"); }
            else if (cap == "UTF8=ACCEPT" && !_utf8) { _utf8 = true; enabled.Add("UTF8=ACCEPT"); }
            else if (cap == "CONDSTORE" && !_condstore) { _condstore = true; enabled.Add("CONDSTORE"); }
            // RFC 7162 §3.2.3: enabling QRESYNC also enables CONDSTORE.
            else if (cap == "QRESYNC" && !_qresync) { _qresync = _condstore = true; enabled.Add("QRESYNC"); }
        }
        // RFC 5161 §3.1: ENABLED lists only what this command newly enabled.
        _w.Ascii("* ENABLED" + string.Concat(enabled.Select(e => " " + e))).Crlf();
        return Result.Ok("Enabled.");
    }
}

/// <summary>A command whose arguments do not parse: answered BAD.</summary>
internal sealed class CommandSyntaxException(string message) : Exception(message);

/// <summary>A line longer than imapd_max_line_length: the connection ends.</summary>
internal sealed class LineTooLongException : Exception;
