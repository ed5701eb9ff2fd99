using System.Runtime.InteropServices;
using Posthorn.Config;

namespace Posthorn.Daemon.Tools;

/// <summary><c>postfix check</c>: validate the configuration before the daemon uses it (Postfix postfix-script check).</summary>
/// <remarks>
/// Reports on standard error as <c>posthorn/postfix-script: warning: …</c> or <c>… fatal: …</c>; prints nothing
/// and exits 0 when all is well, exits 1 after a fatal problem. Checks: main.cf and master.cf parse; typed
/// parameters set in main.cf (yes/no, numbers, sizes, times) parse; mynetworks_style, inet_protocols,
/// inet_interfaces and mynetworks are valid; inet services in master.cf have a usable address and port;
/// queue_directory can exist; mail_owner is a user of this system; compiled hash/btree maps older than their
/// source (PostfixCheck.Maps.cs). Beyond Postfix (PostfixCheck.Advice.cs): one warning per Postfix parameter or
/// master.cf service that Posthorn ignores, and advice on open-relay networks, local/virtual domain clashes,
/// "home_mailbox = Maildir", mailbox_size_limit below message_size_limit, smtpd_forbid_bare_newline = no, relay
/// restrictions that reject nothing, and a submission service without TLS or SASL. Warnings never change the
/// exit status. Run as <c>postfix check</c>, it also checks the queue's directories, owners and modes, and as root
/// repairs them as <c>postfix set-permissions</c> does (PostfixCheck.Permissions.cs).
/// </remarks>
public static partial class PostfixCheck
{
    private const string Prefix = "posthorn/postfix-script: ";

    /// <summary>Checks the configuration in <paramref name="configDirectory"/>; returns the exit status.</summary>
    public static int Run(ToolContext ctx, string configDirectory) => Run(ctx, configDirectory, null, UserExists);

    /// <summary>As <see cref="Run(ToolContext, string)"/>, and the queue's ownership and modes
    /// (PostfixCheck.Permissions.cs): repaired when <paramref name="fix"/>, else only warned about.</summary>
    public static int Run(ToolContext ctx, string configDirectory, bool fix) => Run(ctx, configDirectory, null, UserExists, fix);

    /// <summary>As <see cref="Run(ToolContext, string)"/>, with the machine facts given (tests); <paramref name="fix"/>
    /// null checks no permissions (postfix start: the daemon sets them up itself).</summary>
    internal static int Run(ToolContext ctx, string configDirectory, HostInfo? host, Func<string, bool> userExists, bool? fix = null)
    {
        ConfigSnapshot cfg;
        try
        {
            cfg = ConfigSnapshot.Load(configDirectory, host);
        }
        catch (ConfigException e)
        {
            ctx.Err.WriteLine($"{Prefix}fatal: {Postconf.Printable(e.Message)}");
            return 1;
        }
        var fatals = new List<string>();
        void Try(Action check)
        {
            try
            {
                check();
            }
            catch (ConfigException e)
            {
                fatals.Add(e.Message);
            }
        }

        foreach (string name in cfg.SetNames)
        {
            if (!ParameterRegistry.TryGet(name, out var p))
                continue;
            switch (p.Kind)
            {
                case ParameterKind.Bool: Try(() => cfg.GetBool(name)); break;
                case ParameterKind.Number: Try(() => cfg.GetNumber(name)); break;
                case ParameterKind.Size: Try(() => cfg.GetSize(name)); break;
                case ParameterKind.Time: Try(() => cfg.GetTime(name)); break;
            }
        }
        // Postfix mynetworks.c evaluates the style only when mynetworks is unset; a bad style is still a mistake.
        string style = cfg.Get("mynetworks_style").Trim().ToLowerInvariant();
        if (style is not ("host" or "subnet" or "class"))
            fatals.Add($"unknown mynetworks_style parameter value: {cfg.Get("mynetworks_style")}");
        else
            Try(() => cfg.MyNetworks());
        Try(() => cfg.InetInterfaces());
        foreach (var service in cfg.Master.Services)
            Try(() => service.ResolveEndPoints(cfg));
        cfg.MyDestination();

        string queue = cfg.Get("queue_directory");
        if (!Directory.Exists(queue))
        {
            string? parent = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(queue));
            if (!Path.IsPathRooted(queue) || parent is null || !Directory.Exists(parent))
                fatals.Add($"queue_directory {queue}: parent directory does not exist");
            else
                ctx.Err.WriteLine($"{Prefix}warning: queue_directory {queue} does not exist; it is created at start");
        }
        // Postfix mail_params.c wording.
        string owner = cfg.Get("mail_owner");
        if (!userExists(owner))
            fatals.Add($"file {Path.Combine(configDirectory, "main.cf")}: parameter mail_owner: unknown user name value: {owner}");

        var warnings = new List<string>();
        Try(() => warnings.AddRange(StaleMaps(cfg)));
        Try(() => warnings.AddRange(NotImplemented(cfg)));
        Try(() => warnings.AddRange(Advice(cfg)));
        warnings.AddRange(ListenerRecord.Changes(cfg));
        var changes = new List<string>();
        if (fix is { } repair && fatals.Count == 0)
        {
            try
            {
                Permissions(cfg, repair, warnings, changes);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                warnings.Add(e.Message);
            }
        }
        foreach (string w in cfg.Warnings.Concat(warnings))
            ctx.Err.WriteLine($"{Prefix}warning: {Postconf.Printable(w)}");
        foreach (string c in changes)
            ctx.Err.WriteLine($"{Prefix}{Postconf.Printable(c)}");
        // One message per problem: inet_interfaces is resolved for every inet service too.
        foreach (string f in fatals.Distinct())
            ctx.Err.WriteLine($"{Prefix}fatal: {Postconf.Printable(f)}");
        return fatals.Count == 0 ? 0 : 1;
    }

    /// <summary>Whether the user database (getpwnam(3), so NSS too) knows <paramref name="name"/>.</summary>
    internal static bool UserExists(string name) => name.Length > 0 && !name.Contains('\0') && GetPwNam(name) != 0;

    [LibraryImport("libc", EntryPoint = "getpwnam", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint GetPwNam(string name);
}
