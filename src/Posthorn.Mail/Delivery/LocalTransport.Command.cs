using Posthorn.Logging;

namespace Posthorn.Mail.Delivery;

/// <summary>Delivery to |command targets and mailbox_command (Postfix local(8) command.c,
/// EXTERNAL COMMAND DELIVERY).</summary>
/// <remarks>
/// Postfix local(8): the command gets the message on standard input with a From_ line,
/// Return-Path:, X-Original-To: and (prepend_delivered_header = command) Delivered-To: in
/// front, no >From quoting and no empty line appended. The environment is PATH (always reset to
/// /usr/bin:/bin), the export_environment values, and HOME, SHELL (of the user whose rights the
/// command has), LOGNAME and USER (the bare recipient name), LOCAL, EXTENSION, DOMAIN,
/// RECIPIENT, SENDER and ORIGINAL_RECIPIENT, each censored by command_expansion_filter. The exit
/// status is read through sysexits.h (SysExits); command_time_limit kills the command.
/// DEVIATION: Postfix runs commands without a shell when they have no shell syntax; here
/// /bin/sh -c always runs them (same result, one more process). With an empty
/// command_execution_directory Postfix stays in the queue directory; here the command starts in
/// the home of the user it runs as (procmail and friends expect it), or "/".
/// </remarks>
public sealed partial class LocalTransport
{
    /// <summary>Postfix _PATH_DEFPATH.</summary>
    private const string CommandPath = "/usr/bin:/bin";

    private LocalRecipientResult DeliverCommand(LocalDeliveryRequest req, Expansion x, CommandDelivery c, CancellationToken ct)
    {
        if (!TryResolvePrivs(c.Privs, out uint uid, out uint gid, out var problem))
            return Result(c.Recipient, x.Original, DeliveryOutcome.Deferred, "4.3.0", problem);
        string? home = c.Privs?.Home, shell = c.Privs?.Shell;
        if (c.Privs is null or { Uid: 0 } && LibC.IsRoot && _users.TryGetUser(_o.DefaultPrivs, out var privs))
            (home, shell) = (privs.Home, privs.Shell);

        var sender = SenderOf(req, c);
        int at = c.Address.LastIndexOf('@');
        string local = Unquote(at >= 0 ? c.Address[..at] : c.Address).ToLowerInvariant();
        string? domain = at >= 0 ? c.Address[(at + 1)..] : null;
        var (bare, extension) = SplitExtension(local);

        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        void Put(string name, string? value)
        {
            if (value is not null) env[name] = LocalExpand.Censor(value, _o.CommandExpansionFilter);
        }
        Put("HOME", home);
        Put("LOGNAME", bare);
        Put("USER", bare);
        Put("SENDER", sender.IsNull ? "" : sender.ToString());
        Put("RECIPIENT", c.Address);
        Put("LOCAL", local);
        Put("SHELL", shell);
        Put("DOMAIN", domain);
        Put("EXTENSION", extension);
        if (x.Original.Length > 0) Put("ORIGINAL_RECIPIENT", x.Original);
        foreach (var (k, v) in _o.ExportEnvironment) env[k] = v;
        env["PATH"] = CommandPath; // Postfix pipe_command: "Always reset the command search path."

        string cwd = home is { Length: > 0 } && Directory.Exists(home) ? home : "/";
        if (_o.CommandExecutionDirectory.Length > 0)
        {
            var attrs = Attributes(new SystemUser(bare, (int)uid, (int)gid, home ?? "", shell ?? ""), local, extension, c.Address);
            if (!LocalExpand.TryExpand(_o.CommandExecutionDirectory, attrs, _o.CommandExpansionFilter, out cwd))
            {
                _log.Warning(Program, $"bad parameter value syntax for command_execution_directory: {_o.CommandExecutionDirectory}");
                return Result(c.Recipient, x.Original, DeliveryOutcome.Deferred, "4.3.5", "mail system configuration error");
            }
        }

        bool delivered = c.Mailbox || (_o.PrependDeliveredHeader & DeliveredHeader.Command) != 0;
        string prefix = MailCopy.FromLine(sender, _clock.GetLocalNow())
            + MailCopy.DeliveryHeaders(sender, x.Original, delivered ? c.DeliveredTo : null);
        using var content = req.OpenContent();
        var spec = new CommandSpec(
            c.Command, LibC.IsRoot ? (uid, gid) : null, env, cwd,
            _o.LocalCommandShell.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries),
            _o.CommandTimeLimit, _o.SetprivPath, stdin => MailCopy.WriteTo(stdin, prefix, content));
        var r = CommandRunner.Run(spec, ct);
        return r.Status switch
        {
            CommandStatus.Ok => Result(c.Recipient, x.Original, DeliveryOutcome.Sent, "2.0.0", $"delivered to command: {c.Command}"),
            CommandStatus.Defer => Result(c.Recipient, x.Original, DeliveryOutcome.Deferred, r.Dsn, r.Text),
            _ => Result(c.Recipient, x.Original, DeliveryOutcome.Bounced, r.Dsn, r.Text),
        };
    }
}
