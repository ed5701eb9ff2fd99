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
/// Flags -N -f -i -n -o -p -u -v are accepted and change nothing; -d is not supported.
/// </remarks>
public static class Postalias
{
    private const string Usage = "usage: postalias [-Nfinoprsuvw] [-c config_dir] [-q key] [map_type:]file...";

    public static int Run(string[] args, ToolContext ctx)
    {
        string? query = null;
        bool replace = false, ignore = false, list = false;
        int i = 0;
        for (; i < args.Length && args[i].Length > 1 && args[i][0] == '-'; i++)
        {
            string a = args[i];
            if (a == "--") { i++; break; }
            if (a is "-c" or "-q")
            {
                if (i + 1 >= args.Length) return Fatal(ctx, Usage);
                if (a == "-q") query = args[i + 1];
                i++;
                continue;
            }
            foreach (char c in a.AsSpan(1))
            {
                switch (c)
                {
                    case 'r': replace = true; break;
                    case 'w': ignore = true; break;
                    case 's': list = true; break;
                    case 'N' or 'f' or 'i' or 'n' or 'o' or 'p' or 'u' or 'v': break;
                    default: return Fatal(ctx, Usage);
                }
            }
        }
        var maps = args[i..];
        if (maps.Length == 0) return Fatal(ctx, Usage);
        if (query is not null) return Query(ctx, maps, query);
        if (list) return List(ctx, maps);
        foreach (var map in maps)
            if (Build(ctx, map, replace, ignore) is var rc and not 0) return rc;
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
