using System.Text;
using Posthorn.Core;
using Posthorn.Logging;

namespace Posthorn.Mail.Delivery;

/// <summary>A pipe(8) master.cf row's attributes: <c>flags=</c>, <c>user=</c> and <c>argv=</c> (the rest of the row).</summary>
/// <param name="Service">The master.cf service name, as in "delivered via NAME service".</param>
/// <param name="Flags">The flag letters (F, R, D, O, q, h, u, ., &gt;, B).</param>
/// <param name="User">user=: the account (optionally <c>user:group</c>) the command runs as when the daemon is root.</param>
/// <param name="Argv">The command and its arguments, before macro expansion.</param>
public sealed record PipeOptions(string Service, string Flags, string? User, IReadOnlyList<string> Argv)
{
    /// <summary>Parses the arguments of <c>name unix - n n - - pipe flags=… user=… argv=/path …</c>.</summary>
    /// <returns>False with Postfix's complaint when argv= is missing or an attribute is unknown.</returns>
    public static bool TryParse(string service, IReadOnlyList<string> args, out PipeOptions options, out string error)
    {
        options = new PipeOptions(service, "", null, []);
        error = "";
        string flags = "";
        string? user = null;
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a.StartsWith("argv=", StringComparison.Ordinal))
            {
                // Postfix pipe(8): "argv=command... (required) ... This attribute must be specified last."
                var argv = new List<string> { a[5..] };
                argv.AddRange(args.Skip(i + 1));
                if (argv[0].Length == 0) argv.RemoveAt(0);
                if (argv.Count == 0) break;
                options = new PipeOptions(service, flags, user, argv);
                return true;
            }
            if (a.StartsWith("flags=", StringComparison.Ordinal)) flags = a[6..];
            else if (a.StartsWith("user=", StringComparison.Ordinal)) user = a[5..];
            else if (a.Contains('=', StringComparison.Ordinal)) { /* size=, eol=, directory=…: not used here */ }
            else { error = $"unknown attribute name: {a}"; return false; }
        }
        error = "missing argv= command-line attribute";
        return false;
    }

    public bool Has(char flag) => Flags.Contains(flag, StringComparison.Ordinal);
}

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
/// Postfix pipe(8). Macros: ${sender}, ${recipient}, ${original_recipient}, ${user}, ${extension}, ${mailbox},
/// ${domain}, ${nexthop}, ${queue_id}, ${size}; an argument with a recipient macro "expands to as many command-line
/// arguments as there are recipients". Flags: F (From_ line), R (Return-Path:), D (Delivered-To:), O (X-Original-To:),
/// q (quote localparts), h/u (fold domain/localpart to lower case), . (dot-stuff), &gt; (quote "From "), B (blank line).
/// The command runs without a shell, with PATH=/usr/bin:/bin, through the same runner as local(8)'s commands
/// (CommandRunner: output captured, command_time_limit, sysexits.h mapping with Postfix's texts).
/// Security: as root the command runs as user= (Postfix refuses root there: so does this); otherwise as the daemon.
/// DEVIATION: when the daemon is not root, user= is not checked against the account; the command runs as the daemon.
/// </remarks>
public sealed class PipeTransport(PipeOptions o, IUserDatabase users, TimeSpan timeLimit, string setprivPath, TimeProvider clock)
{
    private const string CommandPath = "/usr/bin:/bin";
    private static readonly string[] RecipientMacros = ["recipient", "original_recipient", "user", "extension", "mailbox", "domain"];

    /// <summary>Runs the command once for the request; every recipient shares the result.</summary>
    public async Task<PipeResult> DeliverAsync(PipeRequest req, string recipientDelimiter, CancellationToken ct)
    {
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
        var spec = new CommandSpec(name, switchTo, env, "/", [], timeLimit, setprivPath, stdin =>
        {
            using var content = req.OpenContent();
            MailCopy.WriteTo(stdin, prefix, content, quoteFrom: o.Has('>'), dot: o.Has('.'), blank: o.Has('B'));
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
        if (o.Has('F')) sb.Append(MailCopy.FromLine(req.Sender, clock.GetLocalNow()));
        if (o.Has('R')) sb.Append("Return-Path: <").Append(req.Sender.ToString()).Append(">\n");
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
            "sender" => req.Sender.IsNull ? "" : Address(o, req.Sender.ToString(), fold: false),
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
