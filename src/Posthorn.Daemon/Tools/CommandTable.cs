namespace Posthorn.Daemon.Tools;

/// <summary>The subcommand table: <c>posthorn TOOL ARGS…</c>, or a wrapper named like the Postfix tool.</summary>
public static class CommandTable
{
    private delegate Task<int> Tool(string[] args, ToolContext ctx);

    private static readonly Dictionary<string, Tool> Tools = new(StringComparer.Ordinal)
    {
        ["postfix"] = PostfixCommand.RunAsync,
        ["postconf"] = (a, c) => Task.FromResult(Postconf.Run(a, c)),
        ["newaliases"] = (a, c) => Task.FromResult(ToolShims.Newaliases(a, c)),
        ["postalias"] = (a, c) => Task.FromResult(Postalias.Run(a, c)),
        ["postmap"] = (a, c) => Task.FromResult(Postmap.Run(a, c)),
        ["mailq"] = (a, c) => Task.FromResult(ToolShims.Mailq(a, c)),
        ["postqueue"] = Postqueue.RunAsync,
        ["postsuper"] = (a, c) => Task.FromResult(ToolShims.Postsuper(a, c)),
        ["postcat"] = (a, c) => Task.FromResult(ToolShims.Postcat(a, c)),
        ["sendmail"] = Sendmail.RunToolAsync,
        ["mail"] = (a, c) => Task.FromResult(MailCommand.Run(a, c)),
        ["mailx"] = (a, c) => Task.FromResult(MailCommand.Run(a, c)),
        ["install-links"] = (a, c) => Task.FromResult(InstallLinks.Run(a, c)),
        ["demo"] = DemoCommand.RunAsync,
        ["tls"] = TlsCommand.RunAsync,
        ["pw"] = PwCommand.RunAsync,
        ["anvil"] = AnvilCommand.RunAsync,
    };

    /// <summary>The <c>postfix</c> verbs may be given directly: <c>posthorn start</c>.</summary>
    private static readonly HashSet<string> PostfixVerbs = ["start", "start-fg", "stop", "reload", "status", "check", "flush", "abort", "set-permissions"];

    public static async Task<int> RunAsync(string argv0, string[] args, ToolContext ctx)
    {
        string self = Path.GetFileNameWithoutExtension(argv0);
        if (Tools.TryGetValue(self, out var byName) && self != "posthorn")
            return await byName(args, ctx);
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Usage(ctx.Out);
            return args.Length == 0 ? 64 : 0;
        }
        if (Tools.TryGetValue(args[0], out var tool))
            return await tool(args[1..], ctx);
        if (PostfixVerbs.Contains(args[0]))
            return await PostfixCommand.RunAsync(args, ctx);
        ctx.Err.WriteLine($"posthorn: fatal: unknown command: {args[0]} (try: posthorn help)");
        return 64;
    }

    private static void Usage(TextWriter o)
    {
        o.WriteLine("usage: posthorn TOOL [ARGS…]     (or call a link named like the tool)");
        o.WriteLine();
        o.WriteLine("  demo [DIR]                      create a demo configuration (once) and run it in the foreground");
        o.WriteLine("  postfix [-c DIR] start|start-fg|stop|reload|status|check|flush");
        o.WriteLine("  postconf [-c DIR] [-n|-d|-h|-x] [name…] | -e name=value…");
        o.WriteLine("  newaliases, postalias hash:FILE  compile the aliases database");
        o.WriteLine("  mailq, postqueue -p|-j|-f|-i ID|-s SITE, postsuper -d ID|ALL, postcat -q ID");
        o.WriteLine("  sendmail [-t] [-i] [-f sender] rcpt… < message | -bs | -bv rcpt… | -q[Rsite|Iid] | -I");
        o.WriteLine("  mail [-s subj] [-c cc] [-b bcc] [-a file] [-r from] [-E] addr… < body; mail [-f file | -u user]");
        o.WriteLine("  install-links DIR               write wrappers named postfix, postconf, sendmail, mailq, …");
        o.WriteLine("  anvil [-c DIR]                  print the running daemon's per-client connection and rate counters");
        o.WriteLine("  pw [-s SCHEME] [-p PASSWORD]    make a passwd-file password field, as doveadm pw (-l lists schemes)");
        o.WriteLine();
        o.WriteLine("MAIL_CONFIG or -c DIR chooses the configuration directory (default /etc/postfix).");
    }
}
