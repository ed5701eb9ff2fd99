using Posthorn.Config.Tables;

namespace Posthorn.Daemon.Tools;

/// <summary>postmap(1): builds, queries, lists and edits lookup tables.</summary>
/// <remarks>
/// <c>postmap [-Nbfhimnoprsuvw] [-c config_dir] [-d key] [-q key] [type:]file …</c>. Without -q, -s or -d each
/// named <c>hash:</c>/<c>btree:</c> table is compiled from FILE into FILE.db (format: <see cref="HashFile"/>),
/// atomically; a bare file name is <c>hash:</c>. Postfix postmap(1):
/// -q key: "search the specified maps for key and write the first value found to the standard output stream.
/// The exit status is zero when the requested information was found"; a key of <c>-</c> reads keys from
/// standard input and prints <c>key&lt;TAB&gt;value</c> for each one found (exit 0 when at least one was).
/// Every table type can be queried. -s lists every entry as <c>key&lt;TAB&gt;value</c> (hash, btree, texthash,
/// inline, unix). -d key removes the key from a compiled table (exit 0 when something was removed; <c>-</c>
/// reads keys from standard input). -i adds <c>key value</c> lines from standard input to the table instead of
/// rebuilding it from FILE. -f keeps key case; -r replaces duplicate keys; -w ignores them silently (by default
/// the first stays and a warning names the duplicate). With <c>-q -</c>, -h and -b read standard input as a
/// message and look up its header lines and/or body lines (header_checks/body_checks testing). Flags -N -m -n -o
/// -p -u -U -v are accepted and change nothing. Messages go to standard error as <c>postmap: warning: …</c>, <c>postmap: fatal: …</c> (exit 1).
/// </remarks>
public static class Postmap
{
    private const string Usage = "usage: postmap [-NfinoprsuUvw] [-c config_dir] [-d key] [-q key] [map_type:]file...";

    private sealed record Options(bool Fold, DuplicatePolicy Duplicates, bool Incremental);

    /// <summary>Which parts of a message on standard input become keys with <c>-q -</c> (-h headers, -b body).</summary>
    [Flags]
    private enum MessageParts { None = 0, Headers = 1, Body = 2 }

    /// <summary>Runs postmap with Postfix's arguments; returns the exit status.</summary>
    public static int Run(string[] args, ToolContext ctx)
    {
        string? query = null, delete = null;
        bool list = false, fold = true, incremental = false;
        var parts = MessageParts.None;
        var duplicates = DuplicatePolicy.Warn;
        int i = 0;
        for (; i < args.Length && args[i].Length > 1 && args[i][0] == '-'; i++)
        {
            string a = args[i];
            if (a == "--")
            {
                i++;
                break;
            }
            for (int j = 1; j < a.Length; j++)
            {
                char c = a[j];
                if (c is 'c' or 'q' or 'd')
                {
                    string? value = j + 1 < a.Length ? a[(j + 1)..] : i + 1 < args.Length ? args[++i] : null;
                    if (value is null)
                        return Fatal(ctx, Usage);
                    if (c == 'q') query = value;
                    else if (c == 'd') delete = value;
                    break;
                }
                switch (c)
                {
                    case 'f': fold = false; break;
                    case 'i': incremental = true; break;
                    case 'r': duplicates = DuplicatePolicy.Replace; break;
                    case 'w': duplicates = DuplicatePolicy.Ignore; break;
                    case 's': list = true; break;
                    case 'h': parts |= MessageParts.Headers; break;
                    case 'b': parts |= MessageParts.Body; break;
                    case 'N' or 'm' or 'n' or 'o' or 'p' or 'u' or 'U' or 'v': break;
                    default: return Fatal(ctx, Usage);
                }
            }
        }
        var maps = args[i..];
        if (maps.Length == 0 || (query is not null && delete is not null))
            return Fatal(ctx, Usage);
        var options = new LookupTableOptions { FoldKeys = fold, Clock = ctx.Clock, Warn = w => ctx.Err.WriteLine($"postmap: warning: {w}") };
        var opts = new Options(fold, duplicates, incremental);
        try
        {
            if (query is not null)
                return Query(ctx, maps, query, options, parts);
            if (delete is not null)
                return Delete(ctx, maps, delete, options, opts);
            if (list)
                return List(ctx, maps, options);
            foreach (string map in maps)
                Build(ctx, map, options, opts);
            return 0;
        }
        catch (LookupTableException e)
        {
            return Fatal(ctx, e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fatal(ctx, e.Message);
        }
    }

    /// <summary>Compiles one table: FILE (or, with -i, the table plus standard input) into FILE.db.</summary>
    private static void Build(ToolContext ctx, string map, LookupTableOptions options, Options opts)
    {
        var (type, path) = LookupTables.Split(map);
        if (type is not ("hash" or "btree"))
            throw new LookupTableException(map, $"unsupported dictionary type: {type}");
        List<TableSourceEntry> entries;
        if (opts.Incremental)
        {
            // postmap -i: "Incremental mode. Read entries from standard input and do not truncate an existing database."
            entries = File.Exists(path + ".db") ? [.. Existing(type, path, options)] : [];
            var added = TableSource.Parse(ctx.In.ReadToEnd(), "stdin", opts.Fold, options.Warn, opts.Duplicates);
            foreach (var e in added)
            {
                int at = entries.FindIndex(x => x.Key == e.Key);
                if (at < 0)
                    entries.Add(e);
                else if (opts.Duplicates == DuplicatePolicy.Replace)
                    entries[at] = e;
                else if (opts.Duplicates == DuplicatePolicy.Warn)
                    options.Warn?.Invoke($"{path}.db: duplicate entry: \"{e.Key}\"");
            }
        }
        else
        {
            string text;
            try
            {
                text = File.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new LookupTableException(map, $"open {path}: {Why(e)}");
            }
            entries = TableSource.Parse(text, path, opts.Fold, options.Warn, opts.Duplicates);
        }
        HashFile.Write(path + ".db", entries, opts.Fold, path);
    }

    private static IEnumerable<TableSourceEntry> Existing(string type, string path, LookupTableOptions options) =>
        ((HashTable)LookupTables.Open($"{type}:{path}", options)).Entries().Select(kv => new TableSourceEntry(kv.Key, kv.Value, 0));

    private static int Query(ToolContext ctx, string[] maps, string key, LookupTableOptions options, MessageParts parts)
    {
        var tables = maps.Select(m => LookupTables.Open(m, options)).ToList();
        if (key != "-")
        {
            if (!LookupTables.TryLookup(tables, key, out string value))
                return 1;
            ctx.Out.Write(value + "\n");
            return 0;
        }
        bool found = false;
        var keys = parts == MessageParts.None ? LinesOf(ctx.In).Select(l => l.Trim()) : MessageKeys(ctx.In, parts);
        foreach (string k in keys)
        {
            if (k.Length == 0 || !LookupTables.TryLookup(tables, k, out string v))
                continue;
            ctx.Out.Write($"{k}\t{v}\n");
            found = true;
        }
        return found ? 0 : 1;
    }

    private static IEnumerable<string> LinesOf(TextReader reader)
    {
        string? line;
        while ((line = reader.ReadLine()) is not null)
            yield return line;
    }

    /// <summary>Postfix postmap(1) -h/-b with <c>-q -</c>: standard input is an RFC 5322 message; each logical
    /// header line (continuation lines kept, joined by newlines) and/or each body line is one key, as
    /// header_checks and body_checks see them. -m (nested MIME headers) is accepted and changes nothing:
    /// DEVIATION, MIME part headers are looked up as body lines.</summary>
    private static IEnumerable<string> MessageKeys(TextReader reader, MessageParts parts)
    {
        bool inHeaders = true;
        string? header = null;
        foreach (string line in LinesOf(reader))
        {
            if (inHeaders)
            {
                if (line.Length > 0 && line[0] is ' ' or '\t' && header is not null)
                {
                    header += "\n" + line;
                    continue;
                }
                if (header is not null && parts.HasFlag(MessageParts.Headers))
                    yield return header;
                header = null;
                if (line.Length == 0)
                    inHeaders = false;
                else
                    header = line;
                continue;
            }
            if (parts.HasFlag(MessageParts.Body))
                yield return line;
        }
        if (header is not null && parts.HasFlag(MessageParts.Headers))
            yield return header;
    }

    private static int List(ToolContext ctx, string[] maps, LookupTableOptions options)
    {
        foreach (string map in maps)
        {
            var table = LookupTables.Open(map, options);
            if (table is not IListableLookupTable listable)
                return Fatal(ctx, $"table {map}: sequential access is not supported");
            foreach (var (k, v) in listable.Entries())
                ctx.Out.Write($"{k}\t{v}\n");
        }
        return 0;
    }

    private static int Delete(ToolContext ctx, string[] maps, string key, LookupTableOptions options, Options opts)
    {
        var keys = key == "-" ? ReadKeys(ctx) : [key];
        bool removed = false;
        foreach (string map in maps)
        {
            var (type, path) = LookupTables.Split(map);
            if (type is not ("hash" or "btree"))
                return Fatal(ctx, $"unsupported dictionary type: {type}");
            var entries = Existing(type, path, options).ToList();
            var drop = new HashSet<string>(keys.Select(k => opts.Fold ? k.ToLowerInvariant() : k), StringComparer.Ordinal);
            int before = entries.Count;
            entries.RemoveAll(e => drop.Contains(e.Key));
            if (entries.Count == before)
                continue;
            removed = true;
            HashFile.Write(path + ".db", entries, opts.Fold, path);
        }
        return removed ? 0 : 1;
    }

    private static List<string> ReadKeys(ToolContext ctx)
    {
        var keys = new List<string>();
        string? line;
        while ((line = ctx.In.ReadLine()) is not null)
        {
            if (line.Trim() is { Length: > 0 } k)
                keys.Add(k);
        }
        return keys;
    }

    private static string Why(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
        UnauthorizedAccessException => "Permission denied",
        _ => e.Message,
    };

    private static int Fatal(ToolContext ctx, string text)
    {
        ctx.Err.WriteLine($"postmap: fatal: {text}");
        return 1;
    }
}
