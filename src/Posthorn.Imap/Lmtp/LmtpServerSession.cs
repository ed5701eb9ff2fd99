using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Posthorn.Logging;

namespace Posthorn.Lmtp;

/// <summary>lmtpd: one LMTP connection (RFC 2033), Dovecot's lmtp in Posthorn: a Postfix (or Posthorn)
/// with <c>mailbox_transport = lmtp:unix:private/lmtp-posthorn</c> hands mail for local users here.</summary>
/// <remarks>
/// Standards: RFC 2033 (LHLO, one reply per accepted recipient after DATA), RFC 5321 (MAIL, RCPT, DATA,
/// RSET, NOOP, QUIT, dot-stuffing), RFC 2920 (PIPELINING), RFC 2034 (ENHANCEDSTATUSCODES), RFC 1870 (SIZE),
/// RFC 6152 (8BITMIME).
/// Security: LMTP has no authentication, so the socket's place decides who may talk (Postfix puts it in
/// the private/ directory); lines are bounded before they are parsed, the message by message_size_limit
/// while it is spooled, every read by lmtpd_timeout. Recipients are checked with
/// <see cref="ILmtpDeliveryAgent"/>, which alone decides where mail goes.
/// Lifetime: greets, serves until QUIT, end of input, timeout or shutdown, and disposes the stream.
/// </remarks>
public sealed partial class LmtpServerSession(Stream stream, LmtpSessionOptions options, ILmtpDeliveryAgent agent,
    MailLog log, TimeProvider clock)
{
    private const string Program = "lmtp";

    private PipeReader _input = null!;
    private PipeWriter _output = null!;
    private CancellationTokenSource _timeout = null!;
    private CancellationToken _ct;
    private string? _lhlo;
    private string? _sender;
    private readonly List<string> _recipients = [];
    private int _transactions;

    public async Task RunAsync(CancellationToken shutdown)
    {
        _input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        _output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        using var timeout = new CancellationTokenSource(System.Threading.Timeout.InfiniteTimeSpan, clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(shutdown, timeout.Token);
        _timeout = timeout;
        _ct = linked.Token;
        string reason = "Connection closed";
        log.LmtpConnect(options.Client);
        try
        {
            // RFC 2033 §4: the greeting names the protocol as LMTP.
            await ReplyAsync(new LmtpReply(220, "", $"{options.Hostname} LMTP Posthorn"));
            while (true)
            {
                string? line = await ReadCommandAsync();
                if (line is null) break;
                if (!await HandleAsync(line))
                {
                    reason = "Client has quit the connection";
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            reason = "Timeout";
            await TryReplyAsync(LmtpReplies.Timeout);
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            reason = "Server shutting down";
        }
        catch (IOException)
        {
            reason = "Connection closed";
        }
        catch (LmtpLineTooLongException)
        {
            reason = "Command line too long";
            await TryReplyAsync(LmtpReplies.LineTooLong);
        }
        finally
        {
            log.LmtpDisconnect(options.Client, reason);
            await Posthorn.Imap.SessionEnd.CloseAsync(_input, _output, stream);
        }
    }

    /// <summary>One command; false after QUIT.</summary>
    private async ValueTask<bool> HandleAsync(string line)
    {
        int sp = line.IndexOf(' ');
        string verb = (sp < 0 ? line : line[..sp]).ToUpperInvariant();
        string arg = sp < 0 ? "" : line[(sp + 1)..].Trim();
        switch (verb)
        {
            case "LHLO":
                if (arg.Length == 0) { await ReplyAsync(LmtpReplies.SyntaxError); return true; }
                _lhlo = arg;
                ResetTransaction();
                await ReplyLinesAsync(250, [options.Hostname, "PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME",
                    options.MessageSizeLimit > 0 ? "SIZE " + options.MessageSizeLimit.ToString(System.Globalization.CultureInfo.InvariantCulture) : "SIZE"]);
                return true;
            case "HELO" or "EHLO":
                await ReplyAsync(LmtpReplies.UseLhlo);
                return true;
            case "MAIL": await ReplyAsync(Mail(arg)); return true;
            case "RCPT": await ReplyAsync(await RecipientAsync(arg)); return true;
            case "DATA": await DataAsync(arg); return true;
            case "RSET":
                ResetTransaction();
                await ReplyAsync(LmtpReplies.Ok);
                return true;
            case "NOOP":
                await ReplyAsync(LmtpReplies.Ok);
                return true;
            case "QUIT":
                await ReplyAsync(LmtpReplies.Bye);
                return false;
            default:
                await ReplyAsync(LmtpReplies.UnknownCommand);
                return true;
        }
    }

    private void ResetTransaction()
    {
        _sender = null;
        _recipients.Clear();
    }

    /// <summary>MAIL FROM:&lt;path&gt; [SIZE=n] [BODY=7BIT|8BITMIME] (RFC 5321 §4.1.1.2, RFC 1870, RFC 6152).</summary>
    private LmtpReply Mail(string arg)
    {
        if (_lhlo is null) return LmtpReplies.NeedLhlo;
        if (_sender is not null) return LmtpReplies.NestedMail;
        if (!TryParsePath(arg, "FROM:", out string sender, out string rest)) return LmtpReplies.SyntaxError;
        foreach (var p in rest.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = p.IndexOf('=');
            string key = (eq < 0 ? p : p[..eq]).ToUpperInvariant(), value = eq < 0 ? "" : p[(eq + 1)..];
            if (key == "SIZE")
            {
                if (!long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long size))
                    return LmtpReplies.SyntaxError;
                // RFC 1870 §6.1: a declared size over the limit is refused at MAIL.
                if (options.MessageSizeLimit > 0 && size > options.MessageSizeLimit)
                    return new LmtpReply(552, "5.3.4", "Message size exceeds fixed limit");
            }
            else if (key != "BODY")
            {
                return new LmtpReply(555, "5.5.4", $"Unsupported option: {p}");
            }
        }
        _sender = sender;
        return LmtpReplies.SenderOk;
    }

    private async ValueTask<LmtpReply> RecipientAsync(string arg)
    {
        if (_sender is null) return LmtpReplies.NeedMail;
        if (!TryParsePath(arg, "TO:", out string recipient, out _) || recipient.Length == 0) return LmtpReplies.SyntaxError;
        if (_recipients.Count >= options.RecipientLimit) return LmtpReplies.TooManyRecipients;
        var reply = await agent.CheckRecipientAsync(recipient, _ct);
        if (reply.IsSuccess) _recipients.Add(recipient);
        return reply;
    }

    /// <summary>"FROM:&lt;a@b&gt; params": the address inside the brackets and the parameters after them.
    /// RFC 5321 §4.1.2 Path = "&lt;" [ A-d-l ":" ] Mailbox "&gt;"; a source route is dropped.</summary>
    internal static bool TryParsePath(string arg, string keyword, out string address, out string rest)
    {
        address = rest = "";
        if (!arg.StartsWith(keyword, StringComparison.OrdinalIgnoreCase)) return false;
        string s = arg[keyword.Length..].TrimStart();
        if (!s.StartsWith('<')) return false;
        int close = s.IndexOf('>');
        if (close < 0) return false;
        address = s[1..close];
        if (address.StartsWith('@') && address.IndexOf(':') is int colon and > 0) address = address[(colon + 1)..];
        if (address.AsSpan().IndexOfAny("<> \t\0") >= 0) return false;
        rest = s[(close + 1)..].Trim();
        return true;
    }

    private ValueTask ReplyAsync(LmtpReply reply) => ReplyLinesAsync(reply.Code, [reply.Status.Length > 0 ? reply.Status + " " + reply.Text : reply.Text]);

    /// <summary>A reply; several lines as a multi-line reply (RFC 5321 §4.2.1).</summary>
    private async ValueTask ReplyLinesAsync(int code, IReadOnlyList<string> lines)
    {
        for (int i = 0; i < lines.Count; i++)
            _output.Write(Encoding.UTF8.GetBytes($"{code}{(i < lines.Count - 1 ? '-' : ' ')}{lines[i]}\r\n"));
        // RFC 2920 §3.1: flush once no further pipelined command waits in the input.
        if (!HasBufferedLine()) await _output.FlushAsync(_ct);
    }

    /// <summary>Writes the pending replies before waiting for the client.</summary>
    private async ValueTask FlushPendingAsync()
    {
        if (_output.UnflushedBytes > 0) await _output.FlushAsync(_ct);
    }

    private async Task TryReplyAsync(LmtpReply reply)
    {
        try
        {
            _output.Write(Encoding.UTF8.GetBytes(reply + "\r\n"));
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5), clock);
            await _output.FlushAsync(cts.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The peer is gone; nothing more to tell it.
        }
    }

    private bool HasBufferedLine()
    {
        if (!_input.TryRead(out var read)) return false;
        bool has = read.Buffer.PositionOf((byte)'\n') is not null;
        _input.AdvanceTo(read.Buffer.Start, read.Buffer.Start);
        return has;
    }
}

/// <summary>A command line longer than the limit: the session ends.</summary>
internal sealed class LmtpLineTooLongException : Exception;
