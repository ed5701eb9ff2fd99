using System.Globalization;
using Posthorn.Core;
using Posthorn.Mail.Queue;

namespace Posthorn.Daemon.Tools;

/// <summary>sendmail(1): the Sendmail-compatible submission interface — reads a message from
/// standard input and drops it into the <c>maildrop</c> queue for pickup(8).</summary>
/// <remarks>
/// Supported, as in Postfix sendmail(1): <c>-t</c> (recipients from To:/Cc:/Bcc:, Bcc: removed
/// by cleanup), <c>-i</c> / <c>-oi</c> (a line with only "." does not end the input),
/// <c>-f sender</c> / <c>-r sender</c>, <c>-F full_name</c>, <c>-bm</c> (the default),
/// <c>-bp</c> (same as mailq), <c>--</c>, recipients; with the configuration (<see cref="RunToolAsync"/>, Sendmail.Modes.cs):
/// <c>-bs</c> (SMTP on standard input and output), <c>-bv</c> (a report instead of delivery), <c>-q</c>,
/// <c>-qRsite</c>, <c>-qIid</c> (as postqueue -f, -s, -i), <c>-I</c> / <c>-bi</c> (newaliases).
/// <c>-N dsn</c> (RFC 3461 NOTIFY for every recipient: <c>never</c>, or a comma list of success, delay, failure),
/// <c>-R full|hdrs</c> (RFC 3461 RET);
/// Accepted and ignored: -B -C -V -X -L -O -h -e -p (with argument), -G -U -c -m -n -v -x, -bh, -bH,
/// -q with an interval, and other -o options.
/// Postfix sendmail_fix_line_endings = always: CR LF becomes LF.
/// The sender defaults to the login name of the invoking user, unqualified; cleanup qualifies it.
/// DEVIATION: the message is written straight into maildrop (Postfix goes through the setgid
/// postdrop(1)); the daemon's pickup finds it there.
/// Security: input comes from any local user; the maildrop file is only sanitized by cleanup.
/// Exit (sysexits.h): 0; EX_USAGE (64) for bad usage; EX_TEMPFAIL (75) when the queue is not writable.
/// </remarks>
public static partial class Sendmail
{
    public const int ExUsage = 64;
    public const int ExTempFail = 75;

    private const string ArgumentFlags = "BCFLNORVXbefhopqr";

    /// <summary>What the command line asks for.</summary>
    /// <param name="Mode">'m' deliver (the default), 'p' list the queue, 's' SMTP on stdin/stdout, 'v' verify,
    /// 'i' newaliases, 'q' flush the queue (with <paramref name="FlushSite"/> or <paramref name="FlushId"/>),
    /// 'n' nothing to do (-q with an interval).</param>
    internal sealed record Request(char Mode, string? Sender, string? FullName, bool Extract, bool DotIsEnd,
        IReadOnlyList<string> Recipients, string? FlushSite = null, string? FlushId = null)
    {
        /// <summary>-N: the NOTIFY of every recipient.</summary>
        public DsnNotifyFlags Notify { get; init; }
        /// <summary>-R: "FULL" or "HDRS"; null without -R.</summary>
        public string? Ret { get; init; }
    }

    /// <summary>The maildrop part of sendmail(1): -bm (the default) and -bp. The modes that need main.cf
    /// (-bs, -bv, -q, -I) come through <see cref="RunToolAsync"/>; here they are a usage error.</summary>
    public static int Run(string[] args, ToolContext ctx, string queueDirectory)
    {
        if (!TryParse(args, ctx, out var r, out int status)) return status;
        if (r.Mode == 'p') return Mailq.Run([], ctx, queueDirectory);
        if (r.Mode != 'm') return Usage(ctx, "this mode needs the mail system configuration (posthorn sendmail)");
        if (r.Recipients.Count == 0 && !r.Extract)
            return Usage(ctx, "Recipient addresses must be specified on the command line or via the -t option");
        // A command-line tool: no synchronization context, the main thread simply waits.
        return EnqueueAsync(ctx, queueDirectory, r).GetAwaiter().GetResult();
    }

    /// <summary>Postfix sendmail's option parsing; false (with the exit status) after a usage error.</summary>
    internal static bool TryParse(string[] args, ToolContext ctx, out Request request, out int status)
    {
        request = null!;
        status = 0;
        string? sender = null, fullName = null, flushSite = null, flushId = null;
        bool extract = false, dotIsEnd = true;
        var notify = DsnNotifyFlags.Unspecified;
        string? ret = null;
        char mode = 'm';
        int i = 0;
        // Postfix runs getopt in POSIX mode: options stop at the first non-option argument.
        for (; i < args.Length; i++)
        {
            string arg = args[i];
            if (arg == "--") { i++; break; }
            if (arg.Length < 2 || arg[0] != '-') break;
            for (int k = 1; k < arg.Length; k++)
            {
                char c = arg[k];
                string? value = null;
                // Sendmail: a bare -q means "process the queue now"; it takes no separate argument.
                if (c == 'q' && k + 1 == arg.Length) { mode = 'q'; break; }
                if (ArgumentFlags.Contains(c))
                {
                    if (k + 1 < arg.Length) value = arg[(k + 1)..];
                    else if (i + 1 < args.Length) value = args[++i];
                    else { status = Usage(ctx, $"option requires an argument -- {c}"); return false; }
                    k = arg.Length;
                }
                switch (c)
                {
                    case 't': extract = true; break;
                    case 'i': dotIsEnd = false; break;
                    case 'o' when value == "i": dotIsEnd = false; break;
                    case 'f' or 'r': sender = StripBrackets(value!); break;
                    case 'F': fullName = value; break;
                    case 'N':
                        if (ParseNotify(value!) is not { } n) { status = Usage(ctx, $"bad -N option value: {value}"); return false; }
                        notify = n;
                        break;
                    case 'R':
                        // Postfix sendmail(1) -R return_limit: "full" or "hdrs" (RFC 3461 RET).
                        if (!value!.Equals("full", StringComparison.OrdinalIgnoreCase) && !value.Equals("hdrs", StringComparison.OrdinalIgnoreCase))
                        { status = Usage(ctx, $"bad -R option value: {value}"); return false; }
                        ret = value.ToUpperInvariant();
                        break;
                    case 'I': mode = 'i'; break;   // Postfix sendmail(1): -I initializes the alias database
                    case 'b':
                        switch (value)
                        {
                            case "m" or "p" or "s" or "v" or "i": mode = value[0]; break;
                            case "h" or "H": break;   // Postfix: "(ignored)"
                            default: status = Usage(ctx, $"unsupported: -b{value}"); return false;
                        }
                        break;
                    case 'q':
                        // Postfix sendmail(1): -qR<site>, -qI<id>; "-qS<site>: This command is not implemented";
                        // "-q<interval> (ignored)".
                        switch (value![0])
                        {
                            case 'R': (mode, flushSite) = ('q', value[1..]); break;
                            case 'I': (mode, flushId) = ('q', value[1..]); break;
                            case 'S': status = Usage(ctx, "-qS is not implemented: use sendmail -q"); return false;
                            default:
                                if (!char.IsAsciiDigit(value[0])) { status = Usage(ctx, $"unsupported: -q{value}"); return false; }
                                if (mode == 'm') mode = 'n';
                                break;
                        }
                        break;
                    case 'G' or 'U' or 'c' or 'm' or 'n' or 'v' or 'x': break;
                    default:
                        if (value is null) { status = Usage(ctx, $"illegal option -- {c}"); return false; }
                        break;   // an ignored option with its argument
                }
            }
        }
        var recipients = new List<string>();
        for (; i < args.Length; i++)
            foreach (string part in args[i].Split(','))
                if (StripBrackets(part.Trim()) is { Length: > 0 } r) recipients.Add(r);
        request = new Request(mode, sender, fullName, extract, dotIsEnd, recipients, flushSite, flushId) { Notify = notify, Ret = ret };
        return true;
    }

    /// <summary>sendmail -N: <c>never</c> alone, or any of success, delay, failure (RFC 3461 §4.1); null if invalid.</summary>
    internal static DsnNotifyFlags? ParseNotify(string value)
    {
        var flags = DsnNotifyFlags.Unspecified;
        foreach (var word in value.Split(',', StringSplitOptions.TrimEntries))
            flags |= word.ToLowerInvariant() switch
            {
                "never" => DsnNotifyFlags.Never,
                "success" => DsnNotifyFlags.Success,
                "delay" => DsnNotifyFlags.Delay,
                "failure" => DsnNotifyFlags.Failure,
                _ => (DsnNotifyFlags)0xFF,
            };
        bool valid = flags != DsnNotifyFlags.Unspecified && flags != (DsnNotifyFlags)0xFF && (flags & ~(DsnNotifyFlags)0x0F) == 0
            && (flags == DsnNotifyFlags.Never || (flags & DsnNotifyFlags.Never) == 0);
        return valid ? flags : null;
    }

    private static async Task<int> EnqueueAsync(ToolContext ctx, string queueDirectory, Request r)
    {
        var (sender, fullName, extract, dotIsEnd) = (r.Sender, r.FullName, r.Extract, r.DotIsEnd);
        var dir = new QueueDirectory(queueDirectory);
        var id = new QueueIdGenerator(ctx.Clock).Next();
        uint uid = UnixUser.RealUserId();
        var attributes = new Dictionary<string, string>
        {
            [QueueEnvelope.RewriteContextAttribute] = "local",
            [QueueEnvelope.UidAttribute] = uid.ToString(CultureInfo.InvariantCulture),
        };
        if (fullName is { Length: > 0 }) attributes[QueueEnvelope.SenderFullNameAttribute] = fullName;
        if (extract) attributes[QueueEnvelope.ExtractRecipientsAttribute] = "yes";
        if (r.Ret is { } ret) attributes[QueueEnvelope.DsnReturnAttribute] = ret;
        // Postfix sendmail: the default sender is the login name of the real uid (getpwuid), unqualified.
        var envelope = new QueueEnvelope(
            SmtpPath.FromAddress(sender ?? Environment.UserName),
            r.Recipients.Select(a => new QueueRecipient(a, Notify: r.Notify)).ToList(),
            ctx.Clock.GetUtcNow(),
            attributes);
        try
        {
            // DEVIATION: Postfix's sendmail stops when the queue does not exist yet; a queue, or a part of one, that
            // nobody has made (a new configuration directory of one's own, before the first start) is made here, as
            // the daemon makes it at start. Directories that exist are left as they are; where the user may not
            // create one, the error below says so.
            dir.EnsureCreated();
            await using var writer = QueueFileWriter.Create(dir, id, QueueName.Maildrop);
            await using (var input = ctx.OpenStdin())
            {
                await new Input(writer, dotIsEnd).CopyAsync(input).ConfigureAwait(false);
            }
            await writer.CommitAsync(envelope, CancellationToken.None).ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ctx.Err.WriteLine($"sendmail: fatal: {Environment.UserName}({uid}): unable to queue the message: {e.Message}");
            return ExTempFail;
        }
    }

    private static string StripBrackets(string address) =>
        address.Length >= 2 && address[0] == '<' && address[^1] == '>' ? address[1..^1] : address;

    private static int Usage(ToolContext ctx, string problem)
    {
        ctx.Err.WriteLine($"sendmail: fatal: {problem}");
        return ExUsage;
    }

    /// <summary>sendmail(1)'s reading of standard input: CR LF to LF, a lone "." ends the input
    /// (unless -i), a leading Unix "From " line is dropped, a last line without LF gets one.</summary>
    /// <remarks>Memory is bounded by one buffer: a line longer than the buffer is written in pieces.</remarks>
    private sealed class Input(QueueFileWriter writer, bool dotIsEnd)
    {
        private const int BufferSize = 64 * 1024;

        private readonly byte[] _in = new byte[BufferSize];
        private readonly MemoryStream _out = new();
        private bool _atLineStart = true;
        private bool _firstLine = true;
        private bool _ended;

        public async Task CopyAsync(Stream input)
        {
            int filled = 0;
            while (!_ended)
            {
                int n = await input.ReadAsync(_in.AsMemory(filled)).ConfigureAwait(false);
                if (n == 0) break;
                filled += n;
                int used = TakeLines(filled);
                if (!_ended && used == 0 && filled == _in.Length)
                {
                    // No LF in a full buffer: pass on all but a trailing CR (it may precede the LF).
                    used = _in[filled - 1] == '\r' ? filled - 1 : filled;
                    _out.Write(_in, 0, used);
                    _atLineStart = _firstLine = false;
                }
                filled -= used;
                _in.AsSpan(used, filled).CopyTo(_in);
                await FlushAsync().ConfigureAwait(false);
            }
            if (!_ended && filled > 0)
            {
                var last = _in.AsSpan(0, filled);
                if (last.EndsWith("\r"u8)) last = last[..^1];
                if (!(dotIsEnd && _atLineStart && last.SequenceEqual("."u8)))
                {
                    _out.Write(last);
                    _out.WriteByte((byte)'\n');
                }
                await FlushAsync().ConfigureAwait(false);
            }
        }

        /// <summary>Moves the complete lines in the buffer to the output; returns the bytes consumed.</summary>
        private int TakeLines(int filled)
        {
            int pos = 0;
            while (pos < filled)
            {
                int nl = _in.AsSpan(pos, filled - pos).IndexOf((byte)'\n');
                if (nl < 0) break;
                var line = _in.AsSpan(pos, nl);
                pos += nl + 1;
                // Postfix sendmail_fix_line_endings = always: CR LF becomes LF.
                if (line.EndsWith("\r"u8)) line = line[..^1];
                bool wholeLine = _atLineStart;
                bool first = _firstLine;
                _atLineStart = true;
                _firstLine = false;
                // Sendmail: a line with a single "." ends the message, unless -i / -oi.
                if (dotIsEnd && wholeLine && line.SequenceEqual("."u8)) { _ended = true; return pos; }
                // Postfix sendmail: a leading Unix mailbox "From " line is not part of the message.
                if (first && wholeLine && line.StartsWith("From "u8)) continue;
                _out.Write(line);
                _out.WriteByte((byte)'\n');
            }
            return pos;
        }

        private async Task FlushAsync()
        {
            if (_out.Length == 0) return;
            await writer.WriteAsync(_out.GetBuffer().AsMemory(0, (int)_out.Length), CancellationToken.None).ConfigureAwait(false);
            _out.SetLength(0);
        }
    }
}
