using Posthorn.Config;

namespace Posthorn.Daemon.Tools;

public static partial class PostfixCheck
{
    /// <summary>Postfix postfix-script check: "database FILE.db is older than source file FILE" for every
    /// <c>hash:</c>/<c>btree:</c> table named in main.cf or in a master.cf <c>-o</c>, so that a forgotten
    /// <c>postmap</c> is noticed before mail goes to the old entries.</summary>
    private static IEnumerable<string> StaleMaps(ConfigSnapshot cfg)
    {
        var names = new SortedSet<string>(cfg.SetNames, StringComparer.Ordinal);
        foreach (var p in ParameterRegistry.All.Values)
        {
            if (p.Kind == ParameterKind.TableList)
                names.Add(p.Name);
        }
        var values = names.Select(cfg.Get).ToList();
        foreach (var s in cfg.Master.Services.Where(s => s.Overrides.Count > 0))
        {
            var svc = cfg.WithOverrides(s.Overrides);
            values.AddRange(s.Overrides.Keys.Select(svc.Get));
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string value in values)
        {
            foreach (string item in value.Split([' ', '\t', ',', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries))
            {
                string spec = item.StartsWith("proxy:", StringComparison.Ordinal) ? item[6..] : item;
                string? path = spec.StartsWith("hash:", StringComparison.Ordinal) ? spec[5..]
                    : spec.StartsWith("btree:", StringComparison.Ordinal) ? spec[6..] : null;
                if (path is null || !Path.IsPathRooted(path) || !seen.Add(path))
                    continue;
                var source = new FileInfo(path);
                var db = new FileInfo(path + ".db");
                if (source.Exists && db.Exists && db.LastWriteTimeUtc < source.LastWriteTimeUtc)
                    yield return $"database {db.FullName} is older than source file {source.FullName}";
            }
        }
    }
}
