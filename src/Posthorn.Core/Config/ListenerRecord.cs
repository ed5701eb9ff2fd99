using System.Diagnostics;
using System.Text;

namespace Posthorn.Config;

/// <summary>The values of the parameters that a running master bound its listeners with, kept in
/// <c>$queue_directory/pid/inet.params</c> next to master.pid, so that <c>postfix check</c> and
/// <c>postfix reload</c> can say when main.cf now asks for something that only a restart gives.</summary>
/// <remarks>
/// Postfix master(8) reads inet_interfaces and inet_protocols once at start; on reload it logs "ignoring
/// inet_interfaces change" and "to change inet_interfaces, stop and start Postfix" (Postfix master_vars.c).
/// Posthorn's master does the same (it logs those two warnings and binds with the old values), and the tools say it
/// before the reload, in one line. Everything else about listeners follows master.cf at a reload: new rows are bound,
/// rows that are gone are closed, a row whose address changed is bound anew. File format: one <c>name = value</c> line
/// per parameter, the value as a list joined by ", ". Written by the master after it starts and after each reload
/// (the values in force, which stay the start values); removed at a clean stop.
/// Security: the file lives in the pid directory, written by the mail owner; it is read only to warn.
/// </remarks>
public static class ListenerRecord
{
    /// <summary>The parameters whose change needs <c>postfix stop</c> and <c>postfix start</c>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["inet_interfaces", "inet_protocols"];

    /// <summary>The record's path under <paramref name="queueDirectory"/>.</summary>
    public static string PathOf(string queueDirectory) => Path.Combine(queueDirectory, "pid", "inet.params");

    /// <summary>Writes the values <paramref name="cfg"/> gives the listener parameters (the master, at start and reload).</summary>
    public static void Write(string queueDirectory, ConfigSnapshot cfg)
    {
        var sb = new StringBuilder();
        foreach (string name in Names)
            sb.Append(name).Append(" = ").Append(ValueOf(cfg, name)).Append('\n');
        string path = PathOf(queueDirectory);
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, sb.ToString());
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Removes the record (the master, at a clean stop).</summary>
    public static void Delete(string queueDirectory) => File.Delete(PathOf(queueDirectory));

    /// <summary>One warning per listener parameter whose value in <paramref name="cfg"/> differs from the value the
    /// running master started with; empty when no master runs for this queue or nothing changed.</summary>
    public static IReadOnlyList<string> Changes(ConfigSnapshot cfg)
    {
        string queue = cfg.Get("queue_directory");
        var started = ReadIfRunning(queue);
        var warnings = new List<string>();
        if (started is null) return warnings;
        foreach (string name in Names)
        {
            if (!started.TryGetValue(name, out string? then)) continue;
            string now = ValueOf(cfg, name);
            if (!string.Equals(then, now, StringComparison.OrdinalIgnoreCase))
                warnings.Add($"{name} changed from {then} to {now}: run 'postfix stop' and 'postfix start', a reload keeps the addresses the listeners started with");
        }
        return warnings;
    }

    /// <summary>The recorded values, or null when there is no record or the master named in master.pid is gone
    /// (a master killed with SIGKILL leaves both files behind).</summary>
    private static Dictionary<string, string>? ReadIfRunning(string queueDirectory)
    {
        string pidFile = Path.Combine(queueDirectory, "pid", "master.pid");
        string record = PathOf(queueDirectory);
        string[] lines;
        try
        {
            if (!int.TryParse(File.ReadAllText(pidFile).Trim(), out int pid) || !IsAlive(pid)) return null;
            lines = File.ReadAllLines(record);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in lines)
        {
            int eq = line.IndexOf(" = ", StringComparison.Ordinal);
            if (eq > 0) values[line[..eq]] = line[(eq + 3)..];
        }
        return values;
    }

    private static string ValueOf(ConfigSnapshot cfg, string name) => string.Join(", ", cfg.GetList(name));

    private static bool IsAlive(int pid)
    {
        if (pid <= 0) return false;
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }
}
