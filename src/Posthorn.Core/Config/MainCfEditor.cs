namespace Posthorn.Config;

/// <summary>Edits main.cf in place the way <c>postconf -e</c>, <c>-X</c> and <c>-#</c> do (Postfix postconf(1)).</summary>
/// <remarks>Comments, blank lines, order and layout of untouched settings are kept. A changed setting replaces
/// its whole logical line (continuation lines included) where it stands, written as <c>name = value</c>;
/// a repeated setting of the same name is dropped; a new name is appended at the end. The file is rewritten
/// through a temporary file and rename(2), so a reader never sees half a file.</remarks>
public static class MainCfEditor
{
    /// <summary>Sets each name to its value.</summary>
    public static string Set(string text, string fileName, IReadOnlyList<KeyValuePair<string, string>> settings)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in settings)
            values[k] = v;
        var written = new HashSet<string>(StringComparer.Ordinal);
        var output = Rewrite(text, fileName, values.ContainsKey, (entry, lines, sink) =>
        {
            if (written.Add(entry.Name))
                sink.Add($"{entry.Name} = {values[entry.Name]}");
        });
        foreach (var (k, v) in values)
        {
            if (!written.Contains(k))
                output.Add($"{k} = {v}");
        }
        return Join(output);
    }

    /// <summary>Removes every setting of the names (<c>postconf -X</c>).</summary>
    public static string Remove(string text, string fileName, IEnumerable<string> names)
    {
        var set = new HashSet<string>(names, StringComparer.Ordinal);
        return Join(Rewrite(text, fileName, set.Contains, (_, _, _) => { }));
    }

    /// <summary>Comments out every setting of the names, each physical line prefixed with '#' (<c>postconf -#</c>).</summary>
    public static string CommentOut(string text, string fileName, IEnumerable<string> names)
    {
        var set = new HashSet<string>(names, StringComparer.Ordinal);
        return Join(Rewrite(text, fileName, set.Contains, (_, lines, sink) => sink.AddRange(lines.Select(l => "#" + l))));
    }

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/> through a temporary file and a rename, keeping the file mode.</summary>
    public static void WriteAtomically(string path, string text)
    {
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, text);
        if (!OperatingSystem.IsWindows() && File.Exists(path))
            File.SetUnixFileMode(tmp, File.GetUnixFileMode(path));
        File.Move(tmp, path, overwrite: true);
    }

    private static List<string> Rewrite(string text, string fileName, Func<string, bool> selected,
        Action<MainCfEntry, string[], List<string>> replace)
    {
        string[] lines = LogicalLines.Physical(text);
        var byFirst = new Dictionary<int, MainCfEntry>();
        foreach (var e in MainCf.Parse(lines, fileName))
        {
            if (selected(e.Name))
                byFirst[e.Where.First] = e;
        }
        var output = new List<string>(lines.Length + 4);
        for (int i = 0; i < lines.Length; i++)
        {
            if (byFirst.TryGetValue(i, out var e))
            {
                replace(e, lines[e.Where.First..(e.Where.Last + 1)], output);
                i = e.Where.Last;
            }
            else
                output.Add(lines[i]);
        }
        return output;
    }

    private static string Join(List<string> lines) => lines.Count == 0 ? "" : string.Join('\n', lines) + "\n";
}
