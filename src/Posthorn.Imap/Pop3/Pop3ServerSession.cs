using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Posthorn.Imap;
using Posthorn.Imap.Auth;
using Posthorn.Logging;
using Posthorn.Store;

namespace Posthorn.Pop3;

/// <summary>pop3d: one POP3 connection over the user's INBOX.</summary>
/// <remarks>
/// Standards: RFC 1939 (USER, PASS, STAT, LIST, RETR, DELE, NOOP, RSET, QUIT, TOP, UIDL), RFC 2449 (CAPA),
/// RFC 2595 §4 (STLS, when a certificate is configured), RFC 8314 (pop3s, imapd_tls_wrappermode),
/// RFC 5034 (AUTH: PLAIN, SCRAM-SHA-1, SCRAM-SHA-256; see Pop3ServerSession.Sasl.cs).
/// Not offered: APOP. UIDLs are "UIDVALIDITY-UID"… in Dovecot's default %08Xu%08Xv form,
/// so they stay stable as long as the IMAP UIDs do. Deletions happen only at QUIT, in the UPDATE
/// state (RFC 1939 §6), by marking \Deleted and expunging those messages.
/// Security: as imapd: bounded lines, imapd_timeout, plaintext logins only where
/// <see cref="ImapSessionOptions.PlaintextAllowed"/>, the maildrop of the logged-in user only.
/// RFC 1939 §8: a second session of the same user is refused while the first holds the maildrop
/// (<see cref="Pop3MaildropLocks"/>).
/// </remarks>
public sealed partial class Pop3ServerSession(Stream stream, ImapSessionOptions options, IMailStore store, IImapUserResolver users,
    MailLog log, TimeProvider clock)
{
    private Stream _stream = stream;
    private ImapSessionOptions _options = options;
    private PipeReader _input = null!;
    private PipeWriter _output = null!;
    private CancellationToken _ct;
    private CancellationTokenSource _timeout = null!;
    private ImapUser? _user;
    private IMailbox? _box;
    private readonly HashSet<int> _deleted = [];
    private int _retr, _top;
    private bool _lockedOut;
    private string? _heldMaildrop;
    private long _retrBytes, _topBytes;

    public async Task RunAsync(CancellationToken shutdown)
    {
        AttachPipes(_stream);
        using var timeout = new CancellationTokenSource(Timeout.InfiniteTimeSpan, clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(shutdown, timeout.Token);
        _timeout = timeout;
        _ct = linked.Token;
        string? pendingUser = null;
        string reason = "Connection closed";
        _start = clock.GetUtcNow();
        try
        {
            if (_options.TlsWrapperMode && !await WrapperModeHandshakeAsync()) return;
            await SendAsync("+OK Posthorn ready.");
            while (true)
            {
                string? line = await ReadLineAsync();
                if (line is null) break;
                int sp = line.IndexOf(' ');
                string cmd = (sp < 0 ? line : line[..sp]).ToUpperInvariant();
                string arg = sp < 0 ? "" : line[(sp + 1)..];
                if (cmd == "QUIT")
                {
                    if (_box is not null) await UpdateAsync();
                    // The maildrop is free once UPDATE is done, before the client can read the reply and come back.
                    ReleaseMaildrop();
                    await SendAsync("+OK Logging out.");
                    reason = "Logged out";
                    break;
                }
                if (cmd == "CAPA")
                {
                    // RFC 2449 §5.
                    await SendAsync("+OK\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n" +
                        (_box is null && _options.PlaintextAllowed ? "USER\r\n" : "") +
                        (_box is null && _options.StartTlsOffered ? "STLS\r\n" : "") +
                        (_box is null && SaslCapability() is { } sasl ? sasl + "\r\n" : "") + ".");
                    continue;
                }
                if (_box is null)
                {
                    switch (cmd)
                    {
                        case "STLS":
                            await StartTlsAsync(arg);
                            pendingUser = null;
                            break;
                        case "USER":
                            if (!_options.PlaintextAllowed) { await SendAsync("-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."); break; }
                            pendingUser = arg;
                            await SendAsync("+OK");
                            break;
                        case "PASS":
                            if (pendingUser is null) { await SendAsync("-ERR No username given."); break; }
                            _attempts++;
                            await CompleteLoginAsync(await users.AuthenticateAsync(pendingUser, arg, _ct), pendingUser, "PLAIN");
                            pendingUser = null;
                            break;
                        case "AUTH":
                            await AuthAsync(arg);
                            pendingUser = null;
                            break;
                        default:
                            await SendAsync("-ERR Unknown command.");
                            break;
                    }
                    if (_lockedOut) break;
                    continue;
                }
                await TransactionAsync(cmd, arg);
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            reason = "Inactivity";
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            reason = "Server shutting down";
        }
        catch (IOException)
        {
            reason = "Connection closed";
        }
        finally
        {
            if (_user is not null)
            {
                log.ImapSessionEnd("pop3", _user.Name, reason,
                    $"top={_top}/{_topBytes}, retr={_retr}/{_retrBytes}, del={_deleted.Count}/{_box?.Messages.Count ?? 0}, size={_box?.Messages.Sum(m => m.Size) ?? 0}");
            }
            else if (!_lockedOut)
            {
                long secs = (long)(clock.GetUtcNow() - _start).TotalSeconds;
                log.ImapLoginDisconnected("pop3", _attempts > 0 ? $"auth failed, {_attempts} attempts in {secs} secs"
                    : $"no auth attempts in {secs} secs",
                    _failedLogin.User, _failedLogin.Method, _options.RemoteIp, _options.LocalIp, _options.SecurityLabel, _options.SessionId);
            }
            if (_box is not null) await _box.DisposeAsync();
            ReleaseMaildrop();
            await SessionEnd.CloseAsync(_input, _output, _stream);
        }
    }

    /// <summary>TRANSACTION state commands (RFC 1939 §5). Message numbers are fixed for the session.</summary>
    private async ValueTask TransactionAsync(string cmd, string arg)
    {
        var msgs = _box!.Messages;
        switch (cmd)
        {
            case "STAT":
                await SendAsync($"+OK {Live().Count()} {Live().Sum(i => msgs[i].Size)}");
                return;
            case "LIST" or "UIDL":
                if (arg.Length == 0)
                {
                    var sb = new StringBuilder("+OK\r\n");
                    foreach (int i in Live()) sb.Append(i + 1).Append(' ').Append(cmd == "LIST" ? Size(i) : Uidl(i)).Append("\r\n");
                    await SendAsync(sb.Append('.').ToString());
                }
                else if (Number(arg) is int n)
                {
                    await SendAsync($"+OK {n + 1} {(cmd == "LIST" ? Size(n) : Uidl(n))}");
                }
                else await SendAsync("-ERR There's no message " + arg + ".");
                return;
            case "RETR" or "TOP":
            {
                var parts = arg.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                int lines = 0;
                if (parts.Length == 0 || Number(parts[0]) is not int n
                    || cmd == "TOP" && (parts.Length != 2 || !int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out lines)))
                {
                    await SendAsync("-ERR Invalid message number or arguments.");
                    return;
                }
                var bytes = await _box.ReadAsync(msgs[n], _ct);
                if (bytes is null) { await SendAsync("-ERR Message was deleted by another session."); return; }
                byte[] data = ImapMessage.ToCrlf(bytes);
                if (cmd == "TOP") data = Top(data, lines);
                if (cmd == "RETR") { _retr++; _retrBytes += data.Length; } else { _top++; _topBytes += data.Length; }
                await SendMultilineAsync(cmd == "RETR" ? $"+OK {data.Length} octets" : "+OK", data);
                return;
            }
            case "DELE":
                if (Number(arg) is int d) { _deleted.Add(d); await SendAsync("+OK Marked to be deleted."); }
                else await SendAsync("-ERR There's no message " + arg + ".");
                return;
            case "RSET":
                _deleted.Clear();
                await SendAsync("+OK");
                return;
            case "NOOP":
                await SendAsync("+OK");
                return;
            default:
                await SendAsync("-ERR Unknown command.");
                return;
        }
    }

    /// <summary>Gives up this session's maildrop lock (RFC 1939 §8), once.</summary>
    private void ReleaseMaildrop()
    {
        if (_heldMaildrop is null) return;
        _options.Pop3Locks?.Release(_heldMaildrop);
        _heldMaildrop = null;
    }

    private IEnumerable<int> Live() => Enumerable.Range(0, _box!.Messages.Count).Where(i => !_deleted.Contains(i));

    /// <summary>A message number that exists and is not marked deleted, as an index; else null.</summary>
    private int? Number(string arg) =>
        int.TryParse(arg.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n)
        && n >= 1 && n <= _box!.Messages.Count && !_deleted.Contains(n - 1) ? n - 1 : null;

    private long Size(int i) => _box!.Messages[i].Size;

    /// <summary>Dovecot's default pop3_uidl_format %08Xu%08Xv: UID then UIDVALIDITY in hex.</summary>
    private string Uidl(int i) => $"{_box!.Messages[i].Uid:X8}{_box.UidValidity:X8}";

    /// <summary>RFC 1939 §7 TOP: the header, the blank line, and the first n body lines.</summary>
    private static byte[] Top(byte[] data, int lines)
    {
        int sep = data.AsSpan().IndexOf("\r\n\r\n"u8);
        if (sep < 0) return data;
        int end = sep + 4;
        for (int k = 0; k < lines && end < data.Length; k++)
        {
            int nl = data.AsSpan(end).IndexOf((byte)'\n');
            end = nl < 0 ? data.Length : end + nl + 1;
        }
        return data[..end];
    }

    /// <summary>RFC 1939 §6 UPDATE: remove the messages marked with DELE.</summary>
    private async ValueTask UpdateAsync()
    {
        if (_deleted.Count == 0) return;
        var indexes = _deleted.Order().ToList();
        var uids = indexes.Select(i => _box!.Messages[i].Uid).ToHashSet();
        await _box!.StoreFlagsAsync(indexes, FlagOperation.Add, MessageFlags.Deleted, [], _ct);
        await _box.ExpungeAsync(uids, _ct);
    }

    private async ValueTask SendAsync(string text)
    {
        _output.Write(Encoding.UTF8.GetBytes(text + "\r\n"));
        await _output.FlushAsync(_ct);
    }

    /// <summary>A multi-line response: lines starting with "." are dot-stuffed (RFC 1939 §3).</summary>
    private async ValueTask SendMultilineAsync(string first, byte[] data)
    {
        _output.Write(Encoding.ASCII.GetBytes(first + "\r\n"));
        bool lineStart = true;
        int runStart = 0;
        for (int i = 0; i < data.Length; i++)
        {
            if (lineStart && data[i] == (byte)'.')
            {
                _output.Write(data.AsSpan(runStart, i - runStart));
                _output.Write("."u8);
                runStart = i;
            }
            lineStart = data[i] == (byte)'\n';
        }
        _output.Write(data.AsSpan(runStart));
        if (data.Length > 0 && data[^1] != (byte)'\n') _output.Write("\r\n"u8);
        _output.Write(".\r\n"u8);
        await _output.FlushAsync(_ct);
    }

    private async ValueTask<string?> ReadLineAsync()
    {
        while (true)
        {
            _timeout.CancelAfter(_options.Timeout);
            var read = await _input.ReadAsync(_ct);
            var buffer = read.Buffer;
            if (buffer.PositionOf((byte)'\n') is { } lf)
            {
                // RFC 2449 §4: commands are at most 255 octets; we allow up to imapd_max_line_length.
                byte[] bytes = buffer.Slice(0, lf).ToArray();
                _input.AdvanceTo(buffer.GetPosition(1, lf));
                return Encoding.UTF8.GetString(bytes).TrimEnd('\r');
            }
            if (buffer.Length > _options.MaxLineLength || read.IsCompleted)
            {
                _input.AdvanceTo(buffer.End);
                return null;
            }
            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}
