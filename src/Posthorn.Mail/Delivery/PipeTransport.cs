using System.Text;
using Posthorn.Core;
using Posthorn.Logging;

namespace Posthorn.Mail.Delivery;

/// <summary>One recipient of a pipe(8) delivery.</summary>
public sealed record PipeRecipient(string Address, string? OriginalRecipient);

/// <summary>What pipe(8) delivers: one message to one or more recipients that share a next hop.</summary>
public sealed record PipeRequest(QueueId Id, SmtpPath Sender, IReadOnlyList<PipeRecipient> Recipients, string NextHop,
    long Size, Func<Stream> OpenContent);

/// <summary>The outcome for every recipient of the request (a command runs once for all of them).</summary>
public sealed record PipeResult(DeliveryOutcome Outcome, EnhancedStatus Dsn, string Text);

/// <summary>pipe(8): delivers a message to an external command given by a master.cf row, with its arguments expanded
/// from the envelope, as the row's user.</summary>
/// <remarks>
/// Postfix pipe(8). Attributes (<see cref="PipeOptions"/>): size= bounces a larger message unopened (5.2.3 "message
/// too large"), eol= ends each output line, directory= is the working directory (default $queue_directory, given as
/// <paramref name="defaultDirectory"/>; a directory that cannot be entered defers), null_sender= replaces the null sender.
/// Macros: ${sender}, ${recipient}, ${original_recipient}, ${user}, ${extension}, ${mailbox},
/// ${domain}, ${nexthop}, ${queue_id}, ${size}; an argument with a recipient macro "expands to as many command-line
/// arguments as there are recipients". Flags: F (From_ line), R (Return-Path:), D (Delivered-To:), O (X-Original-To:),
/// q (quote localparts), h/u (fold domain/localpart to lower case), . (dot-stuff), &gt; (quote "From "), B (blank line).
/// The command runs without a shell, with PATH=/usr/bin:/bin, through the same runner as local(8)'s commands
/// (CommandRunner: output captured, command_time_limit, sysexits.h mapping with Postfix's texts).
/// Security: as root the command runs as user= (Postfix refuses root there: so does this); otherwise as the daemon.
/// DEVIATION: when the daemon is not root, user= is not checked against the account; the command runs as the daemon.
/// </remarks>
public sealed class PipeTransport(PipeOptions o, IUserDatabase users, TimeSpan timeLimit, string setprivPath, TimeProvider clock,
    string defaultDirectory = "/")
{
    private const string CommandPath = "/usr/bin:/bin";
    private static readonly string[] RecipientMacros = ["recipient", "original_recipient", "user", "extension", "mailbox", "domain"];

    /// <summary>Runs the command once for the request; every recipient shares the result.</summary>
    public async Task<PipeResult> DeliverAsync(PipeRequest req, string recipientDelimiter, CancellationToken ct)
    {
        // Postfix pipe.c: over the size= limit the message is returned to the sender without running the command.
        if (o.SizeLimit > 0 && req.Size > o.SizeLimit)
            return new PipeResult(DeliveryOutcome.Bounced, new EnhancedStatus(5, 2, 3), "message too large");
        (uint, uint)? switchTo = null;
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["PATH"] = CommandPath };
        if (LibC.IsRoot)
        {
            if (!TryResolveUser(out var account, out string problem))
                return new PipeResult(DeliveryOutcome.Deferred, new EnhancedStatus(4, 3, 5), problem);
            switchTo = ((uint)account.Uid, (uint)account.Gid);
            env["HOME"] = account.Home;
            env["LOGNAME"] = env["USER"] = account.Name;
        }
        var argv = ExpandArgv(o, req, recipientDelimiter);
        string prefix = Prefix(req);
        string name = o.Argv[0];
        // Postfix pipe(8) directory=: "The default working directory is $queue_directory. Delivery is deferred in
        // case of failure" (the runner defers when the process cannot start there).
        string directory = o.Directory is { Length: > 0 } d ? d : defaultDirectory;
        if (!Directory.Exists(directory))
            return new PipeResult(DeliveryOutcome.Deferred, new EnhancedStatus(4, 3, 0), $"mail system configuration error: chdir {directory}: No such file or directory");
        var spec = new CommandSpec(name, switchTo, env, directory, [], timeLimit, setprivPath, stdin =>
        {
            using var content = req.OpenContent();
            // The runner owns stdin (it flushes and closes it); the wrapper is never disposed.
            Stream output = o.Eol == "\n" ? stdin : new EolStream(stdin, o.Eol);
            MailCopy.WriteTo(output, prefix, content, quoteFrom: o.Has('>'), dot: o.Has('.'), blank: o.Has('B'));
        }, argv);
        var r = await Task.Run(() => CommandRunner.Run(spec, ct), CancellationToken.None).ConfigureAwait(false);
        var dsn = EnhancedStatus.Parse(r.Dsn);
        return r.Status switch
        {
            // Postfix pipe(8): "delivered via NAME service".
            CommandStatus.Ok => new PipeResult(DeliveryOutcome.Sent, dsn, $"delivered via {o.Service} service"),
            CommandStatus.Defer => new PipeResult(DeliveryOutcome.Deferred, dsn, r.Text),
            _ => new PipeResult(DeliveryOutcome.Bounced, dsn, r.Text),
        };
    }

    /// <summary>user= as an account; Postfix pipe(8): "user=username … The software refuses to execute commands
    /// with root privileges".</summary>
    private bool TryResolveUser(out SystemUser account, out string problem)
    {
        account = new SystemUser("", 0, 0, "/", "");
        problem = "";
        if (o.User is not { Length: > 0 } spec)
        {
            problem = "mail system configuration error: pipe service without user= attribute";
            return false;
        }
        int colon = spec.IndexOf(':');
        string name = colon < 0 ? spec : spec[..colon];
        if (!users.TryGetUser(name, out account))
        {
            problem = $"mail system configuration error: unknown user name in user= attribute: {name}";
            return false;
        }
        if (colon >= 0)
        {
            // user:group. A numeric group only: group names would need getgrnam, which the user database lacks.
            if (!int.TryParse(spec[(colon + 1)..], out int gid))
            {
                problem = $"mail system configuration error: unknown group in user= attribute: {spec[(colon + 1)..]}";
                return false;
            }
            account = account with { Gid = gid };
        }
        if (account.Uid == 0 || account.Gid == 0)
        {
            problem = "mail system configuration error: user= command-line attribute specifies root privileges";
            return false;
        }
        return true;
    }

    /// <summary>The header lines the F, R, D and O flags put in front of the message.</summary>
    private string Prefix(PipeRequest req)
    {
        var sb = new StringBuilder();
        // Postfix pipe(8) null_sender=: the replacement is used "when generating a From_ or Return-Path: message header".
        string sender = req.Sender.IsNull ? o.NullSender : req.Sender.ToString();
        if (o.Has('F')) sb.Append(MailCopy.FromLine(sender.Length == 0 ? SmtpPath.Null : SmtpPath.FromAddress(sender), clock.GetLocalNow()));
        if (o.Has('R')) sb.Append("Return-Path: <").Append(sender).Append(">\n");
        // Postfix pipe(8) D and O: meaningful with one recipient per delivery (transport_destination_recipient_limit = 1).
        var first = req.Recipients[0];
        if (o.Has('D')) sb.Append("Delivered-To: ").Append(first.Address.ToLowerInvariant()).Append('\n');
        if (o.Has('O')) sb.Append("X-Original-To: ").Append(first.OriginalRecipient ?? first.Address).Append('\n');
        return sb.ToString();
    }

    /// <summary>The command line with its macros expanded.</summary>
    public static IReadOnlyList<string> ExpandArgv(PipeOptions o, PipeRequest req, string recipientDelimiter)
    {
        var result = new List<string>();
        foreach (var arg in o.Argv)
        {
            bool perRecipient = RecipientMacros.Any(m => arg.Contains("${" + m + "}", StringComparison.Ordinal)
                || arg.Contains("$" + m, StringComparison.Ordinal));
            if (!perRecipient) { result.Add(Expand(o, arg, req, null, recipientDelimiter)); continue; }
            foreach (var r in req.Recipients) result.Add(Expand(o, arg, req, r, recipientDelimiter));
        }
        return result;
    }

    private static string Expand(PipeOptions o, string arg, PipeRequest req, PipeRecipient? r, string delimiter)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < arg.Length; i++)
        {
            if (arg[i] != '$' || i + 1 >= arg.Length) { sb.Append(arg[i]); continue; }
            string name;
            int next;
            if (arg[i + 1] == '{')
            {
                int close = arg.IndexOf('}', i + 2);
                if (close < 0) { sb.Append(arg[i..]); break; }
                (name, next) = (arg[(i + 2)..close], close + 1);
            }
            else
            {
                int end = i + 1;
                while (end < arg.Length && (char.IsAsciiLetterOrDigit(arg[end]) || arg[end] == '_')) end++;
                (name, next) = (arg[(i + 1)..end], end);
            }
            if (Value(o, name, req, r, delimiter) is { } value)
            {
                sb.Append(value);
                i = next - 1;
            }
            else sb.Append(arg[i]);
        }
        return sb.ToString();
    }

    /// <summary>One macro's value, with the q, h and u flags applied; null for a name pipe(8) does not know.</summary>
    private static string? Value(PipeOptions o, string name, PipeRequest req, PipeRecipient? r, string delimiter)
    {
        string address = r?.Address ?? "";
        int at = address.LastIndexOf('@');
        string local = at < 0 ? address : address[..at];
        string domain = at < 0 ? "" : address[(at + 1)..];
        string user = local, extension = "";
        if (delimiter.Length > 0 && local.IndexOfAny(delimiter.ToCharArray()) is > 0 and var d)
            (user, extension) = (local[..d], local[(d + 1)..]);
        bool foldHost = o.Has('h'), foldUser = o.Has('u');
        return name switch
        {
            // Postfix pipe(8): the null sender expands to null_sender= (MAILER-DAEMON); an empty one is not quoted.
            "sender" => req.Sender.IsNull ? (o.NullSender.Length == 0 ? "" : Address(o, o.NullSender, fold: false))
                : Address(o, req.Sender.ToString(), fold: false),
            "recipient" => Address(o, address, fold: true),
            "original_recipient" => Address(o, r?.OriginalRecipient ?? address, fold: true),
            "user" => foldUser ? user.ToLowerInvariant() : user,
            "mailbox" => foldUser ? local.ToLowerInvariant() : local,
            "extension" => extension,
            "domain" => foldHost ? domain.ToLowerInvariant() : domain,
            "nexthop" => foldHost ? req.NextHop.ToLowerInvariant() : req.NextHop,
            "queue_id" => req.Id.Value,
            "size" => req.Size.ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => null,
        };
    }

    /// <summary>An address argument: q quotes a localpart with white space or specials (RFC 5322 quoted-string),
    /// h folds the domain and u the localpart (recipients only).</summary>
    private static string Address(PipeOptions o, string address, bool fold)
    {
        int at = address.LastIndexOf('@');
        string local = at < 0 ? address : address[..at];
        string domain = at < 0 ? "" : address[at..];
        if (fold && o.Has('u')) local = local.ToLowerInvariant();
        if (fold && o.Has('h')) domain = domain.ToLowerInvariant();
        if (o.Has('q') && local.Any(c => c is ' ' or '\t' or '"' or '\\' or '(' or ')' or '<' or '>' or ',' or ';' or ':' or '[' or ']' or '@')
            && !(local.StartsWith('"') && local.EndsWith('"')))
            local = "\"" + local.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
        return local + domain;
    }
}

/// <summary>Postfix pipe(8) eol=: writes each LF of the copy as the configured record delimiter.</summary>
internal sealed class EolStream(Stream inner, string eol) : Stream
{
    private readonly byte[] _eol = System.Text.Encoding.Latin1.GetBytes(eol);

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() => inner.Flush();
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (buffer.Length > 0)
        {
            int nl = buffer.IndexOf((byte)'\n');
            if (nl < 0) { inner.Write(buffer); return; }
            inner.Write(buffer[..nl]);
            inner.Write(_eol);
            buffer = buffer[(nl + 1)..];
        }
    }
}
