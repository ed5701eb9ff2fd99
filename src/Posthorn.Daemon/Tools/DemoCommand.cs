using Posthorn.Daemon.Master;

namespace Posthorn.Daemon.Tools;

/// <summary><c>posthorn demo [DIR]</c>: creates (once) a demo configuration directory that runs without
/// root on loopback high ports, prints how to send and read mail, and runs the daemon in the foreground.</summary>
public static class DemoCommand
{
    public static async Task<int> RunAsync(string[] args, ToolContext ctx)
    {
        string dir = Path.GetFullPath(args.Length > 0 ? args[0] : ".demo");
        string user = ctx.GetEnv("USER") ?? Environment.UserName;
        if (!File.Exists(Path.Combine(dir, "main.cf")))
        {
            Directory.CreateDirectory(dir);
            // Like /var/mail on a fresh system, the spool exists before the first delivery.
            Directory.CreateDirectory(Path.Combine(dir, "mail"));
            File.WriteAllText(Path.Combine(dir, "main.cf"), MainCf(dir, user));
            File.WriteAllText(Path.Combine(dir, "master.cf"), MasterCf);
            File.WriteAllText(Path.Combine(dir, "aliases"), $"# aliases(5): name: target, target…  Run `posthorn newaliases` after a change.\npostmaster: root\nroot: {user}\n");
            ctx.Out.WriteLine($"Created the demo configuration in {dir}");
        }
        var withDir = new ToolContext
        {
            Out = ctx.Out, Err = ctx.Err, In = ctx.In, OpenStdin = ctx.OpenStdin, Clock = ctx.Clock,
            ExecutablePath = ctx.ExecutablePath,
            GetEnv = name => name == "MAIL_CONFIG" ? dir : ctx.GetEnv(name),
        };
        int rc = ToolShims.Newaliases([], withDir);
        if (rc != 0) return rc;

        ctx.Out.WriteLine($"""

            Posthorn demo: SMTP on 127.0.0.1:2525, submission on 127.0.0.1:2587.
              configuration   {dir}/main.cf, master.cf, aliases
              mail for {user} lands in {dir}/mail/{user} (mbox; root and postmaster are aliased to {user})
              log             {dir}/maillog

            Send a message with nc (in another terminal):
              printf 'HELO me\r\nMAIL FROM:<you@example.com>\r\nRCPT TO:<{user}@localhost>\r\nDATA\r\nSubject: hello\r\n\r\nHello from nc\r\n.\r\nQUIT\r\n' | nc 127.0.0.1 2525
            Read it:      mutt -f {dir}/mail/{user}
            The tools:    export MAIL_CONFIG={dir}; posthorn postconf -n; posthorn mailq; posthorn postfix reload
            Ctrl-C stops the daemon.

            """);
        return await MasterDaemon.RunAsync(dir, ctx.Err);
    }

    private static string MainCf(string dir, string user) => $"""
        # Posthorn demo configuration: Postfix's main.cf syntax, parameter names and defaults.
        # `posthorn postconf -n` shows what is set here; `posthorn postconf -d` shows every default.

        # Listen on loopback only; mynetworks_style = host trusts this host alone.
        inet_interfaces = loopback-only
        mynetworks_style = host

        # Mail for $myhostname, localhost.$mydomain and localhost is delivered here (the default).
        mydestination = $myhostname, localhost.$mydomain, localhost

        # Everything lives under this directory, so no root is needed.
        queue_directory = {dir}/queue
        data_directory = {dir}/data
        mail_spool_directory = {dir}/mail
        maillog_file = {dir}/maillog
        alias_maps = hash:{dir}/aliases
        alias_database = hash:{dir}/aliases
        mail_owner = {user}

        """;

    private const string MasterCf = """
        # master.cf: the services. service type private unpriv chroot wakeup maxproc command + args
        127.0.0.1:2525  inet  n  -  n  -  -  smtpd
        127.0.0.1:2587  inet  n  -  n  -  -  smtpd
        """;
}
