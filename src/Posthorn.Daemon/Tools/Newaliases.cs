namespace Posthorn.Daemon.Tools;

/// <summary>newaliases(1) (<c>sendmail -bi</c>): rebuilds every map named by alias_database.</summary>
/// <remarks>
/// Postfix sendmail(1): "-bi Initialize alias database. See the newaliases command above"; it runs
/// postalias(1) on the alias_database maps, so the messages read <c>postalias: warning: /etc/aliases,
/// line 3: need name:value pair</c> and <c>postalias: fatal: …</c>, exactly as on a Postfix host.
/// <c>texthash:</c> maps are read as text and need no compiling; they are skipped.
/// Sendmail-compatible flags (-v, -oX…, -C, -c DIR) are accepted; a recipient argument is an error.
/// Exit: 0; 1 after a fatal error; 64 (EX_USAGE) when recipients are given.
/// </remarks>
public static class Newaliases
{
    public static int Run(string[] args, ToolContext ctx, IReadOnlyList<string> aliasDatabases)
    {
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] is "-c" or "-C") { i++; continue; }
            if (args[i].StartsWith('-')) continue;
            // Postfix sendmail.c: msg_fatal_status(EX_USAGE, ...).
            ctx.Err.WriteLine("newaliases: fatal: alias initialization mode requires no recipient");
            return 64;
        }
        foreach (var map in aliasDatabases)
        {
            var (type, _) = Postalias.Split(map.Trim());
            if (type == "texthash") continue;
            if (Postalias.Build(ctx, map.Trim()) is var rc and not 0) return rc;
        }
        return 0;
    }
}
