using Posthorn.Logging;
using Posthorn.Mail.Delivery;

namespace Posthorn.Daemon.Tools;

/// <summary>postalias(1): compiles aliases(5) files into alias maps, or queries them.</summary>
/// <remarks>
/// <c>postalias [-c config_dir] [-q key] [-r] [-s] [-w] [file_type:]file_name …</c>. Without -q
/// or -s every named map is rebuilt from its source (<c>hash:/etc/aliases</c> or plain
/// <c>/etc/aliases</c> → <c>/etc/aliases.db</c>). Postfix postalias(1): "-q key: search the
/// specified maps for key and write the first value found to the standard output stream. The
/// exit status is zero when the requested information was found"; a key of <c>-</c> reads keys
/// from standard input and prints <c>key: value</c>. -s prints every entry as <c>key: value</c>.
/// -r replaces duplicate entries, -w ignores them silently; by default the first stays and a
/// warning names the duplicate. Messages go to standard error as <c>postalias: warning: …</c>
/// and <c>postalias: fatal: …</c> (exit 1).
/// -i adds the aliases on standard input to FILE.db instead of rebuilding it from FILE. Options are parsed as postmap
/// parses them (-qKEY, clustered flags). Flags -N -f -n -o -p -u -v are accepted and change nothing; -d is not
/// supported. DEVIATION: -f cannot keep key case (the alias map format folds every key); with -i, a parse error in
/// standard input gives a line number that counts the entries already in FILE.db.
/// </remarks>
public static class Postalias
{
    private const string Usage = "usage: postalias [-Nfinoprsuvw] [-c config_dir] [-q key] [map_type:]file...";

    public static int Run(string[] args, ToolContext ctx)
    {
        string? query = null;
        bool replace = false, ignore = false, list = false, incremental = false;
        int i = 0;
        // Option syntax as postmap's: -qKEY or -q KEY, and flags clustered (-sv).
        for (; i < args.Length && args[i].Length > 1 && args[i][0] == '-'; i++)
        {
            string a = args[i];
            if (a == "--") { i++; break; }
            for (int j = 1; j < a.Length; j++)
            {
                char c = a[j];
                if (c is 'c' or 'q')
                {
                    string? value = j + 1 < a.Length ? a[(j + 1)..] : i + 1 < args.Length ? args[++i] : null;
                    if (value is null) return Fatal(ctx, Usage);
                    if (c == 'q') query = value;
                    break;
                }
                switch (c)
                {
                    case 'r': replace = true; break;
                    case 'w': ignore = true; break;
                    case 's': list = true; break;
                    case 'i': incremental = true; break;
                    case 'N' or 'f' or 'n' or 'o' or 'p' or 'u' or 'v': break;
                    default: return Fatal(ctx, Usage);
                }
            }
        }
        var maps = args[i..];
        if (maps.Length == 0) return Fatal(ctx, Usage);
        if (query is not null) return Query(ctx, maps, query);
        if (list) return List(ctx, maps);
        foreach (var map in maps)
            if ((incremental ? Incremental(ctx, map, replace, ignore) : Build(ctx, map, replace, ignore)) is var rc and not 0) return rc;
        return 0;
    }

    /// <summary>Rebuilds one map; 0, or 1 after a fatal message. Also used by newaliases.</summary>
    internal static int Build(ToolContext ctx, string map, bool replace = false, bool ignore = false)
    {
        var (type, path) = Split(map);
        if (type is not "hash") return Fatal(ctx, $"unsupported dictionary type: {type}");
        try
        {
            foreach (var w in AliasDatabase.Compile(path, path + ".db", replace, warnDuplicates: !ignore))
                ctx.Err.WriteLine($"postalias: warning: {w}");
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fatal(ctx, $"open {path}: {Why(e)}");
        }
    }

    /// <summary>postalias -i: "Incremental mode. Read entries from standard input and do not truncate an existing
    /// database" (Postfix postalias(1)). The entries in FILE.db and then those on standard input (aliases(5) syntax)
    /// are compiled into a new FILE.db; a key on standard input that is already there is a duplicate.</summary>
    private static int Incremental(ToolContext ctx, string map, bool replace, bool ignore)
    {
        var (type, path) = Split(map);
        if (type is not "hash") return Fatal(ctx, $"unsupported dictionary type: {type}");
        string db = path + ".db";
        var text = new System.Text.StringBuilder();
        var mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        if (File.Exists(db))
        {
            var existing = AliasDatabase.OpenMap($"hash:{path}", Log(ctx), ctx.Clock, "postalias");
            if (existing is null) return 1;
            mode = File.GetUnixFileMode(db);
            foreach (string key in existing.Keys)
                if (existing.TryLookup(key, out var targets))
                    text.Append(Quote(key)).Append(": ").AppendJoin(", ", targets.Select(Quote)).Append('\n');
        }
        text.Append(ctx.In.ReadToEnd()).Append('\n');
        string source = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(db))!, $".{Path.GetFileName(db)}.{Environment.ProcessId}.stdin");
        try
        {
            File.WriteAllText(source, text.ToString());
            File.SetUnixFileMode(source, mode);
            foreach (var w in AliasDatabase.Compile(source, db, replace, warnDuplicates: !ignore))
                ctx.Err.WriteLine($"postalias: warning: {w.Replace(source, "stdin", StringComparison.Ordinal)}");
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fatal(ctx, $"open {db}: {Why(e)}");
        }
        finally
        {
            File.Delete(source);
        }
    }

    /// <summary>An alias name or target as aliases(5) text: in double quotes, with \\ and \" escaped, when it holds
    /// white space, a comma, a colon, a quote or a '#'.</summary>
    private static string Quote(string s) =>
        s.AsSpan().IndexOfAny(" \t,:\"#\\") < 0 ? s : "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static int Query(ToolContext ctx, string[] maps, string key)
    {
        var dbs = new List<AliasDatabase>();
        foreach (var map in maps)
        {
            var (type, path) = Split(map);
            if (type == "hash" && !File.Exists(path + ".db")) return Fatal(ctx, $"open database {path}.db: No such file or directory");
            var db = AliasDatabase.OpenMap($"{type}:{path}", Log(ctx), ctx.Clock, "postalias");
            if (db is null) return 1;
            dbs.Add(db);
        }
        bool found = false;
        if (key != "-") return Lookup(key, out var value) ? Print(value) : 1;
        string? line;
        while ((line = ctx.In.ReadLine()) is not null)
        {
            string k = line.Trim();
            if (k.Length == 0 || !Lookup(k, out var v)) continue;
            ctx.Out.WriteLine($"{k}: {v}");
            found = true;
        }
        return found ? 0 : 1;

        int Print(string v)
        {
            ctx.Out.WriteLine(v);
            return 0;
        }

        bool Lookup(string k, out string v)
        {
            foreach (var db in dbs)
                if (db.TryLookup(k, out var targets))
                {
                    v = string.Join(", ", targets);
                    return true;
                }
            v = "";
            return false;
        }
    }

    private static int List(ToolContext ctx, string[] maps)
    {
        foreach (var map in maps)
        {
            var (type, path) = Split(map);
            if (type == "hash" && !File.Exists(path + ".db")) return Fatal(ctx, $"open database {path}.db: No such file or directory");
            var db = AliasDatabase.OpenMap($"{type}:{path}", Log(ctx), ctx.Clock, "postalias");
            if (db is null) return 1;
            foreach (var k in db.Keys)
                if (db.TryLookup(k, out var t)) ctx.Out.WriteLine($"{k}: {string.Join(", ", t)}");
        }
        return 0;
    }

    /// <summary><c>type:name</c>; a bare name has Postfix's default_database_type, hash.</summary>
    internal static (string Type, string Path) Split(string map)
    {
        int colon = map.IndexOf(':');
        return colon > 0 && !map.StartsWith('/') ? (map[..colon], map[(colon + 1)..]) : ("hash", map);
    }

    /// <summary>Warnings from opening a map (a stale database) go to standard error, as postalias prints them.</summary>
    private static MailLog Log(ToolContext ctx) => new(new StderrSink(ctx.Err), "postfix", "localhost", ctx.Clock);

    private sealed class StderrSink(TextWriter err) : IMailLogSink
    {
        public void Write(in MailLogEntry entry) => err.WriteLine($"postalias: {entry.Text}");
    }

    private static string Why(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
        UnauthorizedAccessException => "Permission denied",
        _ => e.Message,
    };

    private static int Fatal(ToolContext ctx, string text)
    {
        ctx.Err.WriteLine($"postalias: fatal: {text}");
        return 1;
    }
}
