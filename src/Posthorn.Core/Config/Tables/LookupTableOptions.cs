namespace Posthorn.Config.Tables;

/// <summary>How <see cref="LookupTables.Open(string, LookupTableOptions)"/> opens a table: where warnings go and
/// the few machine facts a table type needs (injected, so tests run without the real /etc files).</summary>
public sealed record LookupTableOptions
{
    /// <summary>Receives non-fatal problems (a stale database, a skipped table line), in Postfix's wording.</summary>
    public Action<string>? Warn { get; init; }

    /// <summary>The clock for the stale-database check.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Fold keys to lower case in fixed-string tables (hash, texthash, inline). Postfix postmap(1)
    /// -f turns this off: "Do not fold the lookup key to lower case while creating or querying a table."</summary>
    public bool FoldKeys { get; init; } = true;

    /// <summary>The passwd(5) file behind <c>unix:passwd.byname</c>.</summary>
    public string PasswdFile { get; init; } = "/etc/passwd";

    /// <summary>The group(5) file behind <c>unix:group.byname</c>.</summary>
    public string GroupFile { get; init; } = "/etc/group";

    /// <summary>The process environment behind <c>environ:</c>: variable name to value, null when unset.</summary>
    public Func<string, string?> GetEnvironment { get; init; } = Environment.GetEnvironmentVariable;

    /// <summary>The most time one regular expression may take on one key (regexp:, pcre:).</summary>
    public TimeSpan RegexTimeout { get; init; } = TimeSpan.FromMilliseconds(200);
}
