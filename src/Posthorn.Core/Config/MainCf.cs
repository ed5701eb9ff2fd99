namespace Posthorn.Config;

/// <summary>One <c>name = value</c> setting of main.cf, with where it is.</summary>
internal readonly record struct MainCfEntry(string Name, string Value, LogicalLine Where);

/// <summary>main.cf reader (Postfix postconf(5) SYNTAX, dict_load_file).</summary>
internal static class MainCf
{
    /// <summary>Parses main.cf text into its settings, in file order (a later setting of a name overrides an earlier one).</summary>
    /// <exception cref="ConfigException">A logical line is not <c>name = value</c>.</exception>
    public static List<MainCfEntry> Parse(string[] lines, string fileName, Action<string>? warn = null)
    {
        var entries = new List<MainCfEntry>();
        foreach (var logical in LogicalLines.Split(lines, fileName, warn))
        {
            // Postfix reads lines as C strings: a NUL byte (a binary file) ends the line there.
            string text = logical.Text;
            int nul = text.IndexOf('\0');
            if (nul >= 0)
                text = text[..nul];
            if (!TrySplitNameValue(text, out string name, out string value, out string? error))
                throw new ConfigException(fileName, logical.Line, $"{error}: \"{Excerpt(text)}\"");
            // Postfix mac_expand: "truncated macro reference". DEVIATION: Postfix stops with "macro processing
            // error" only when the value is expanded; Posthorn stops at load, naming the file and line.
            bool raw = ParameterRegistry.TryGet(name, out var p) && p.Raw;
            if (!raw && Expander.FindTruncated(value) is { } truncated)
                throw new ConfigException(fileName, logical.Line, $"parameter {name}: truncated macro reference: \"{Excerpt(truncated)}\"");
            entries.Add(new MainCfEntry(name, value, logical));
        }
        return entries;
    }

    /// <summary>Text for a message, cut after 100 characters. DEVIATION: Postfix quotes the whole line, however long.</summary>
    internal static string Excerpt(string text) => text.Length <= 100 ? text : text[..100] + $"... ({text.Length} characters)";

    /// <summary>Splits <c>name = value</c>; white space around '=' and at the end is ignored (Postfix split_nameval).</summary>
    public static bool TrySplitNameValue(string text, out string name, out string value, out string? error)
    {
        int eq = text.IndexOf('=');
        name = value = "";
        if (eq < 0)
        {
            error = "missing '=' after attribute name";
            return false;
        }
        name = text[..eq].Trim(' ', '\t');
        value = text[(eq + 1)..].Trim(' ', '\t');
        if (name.Length == 0)
        {
            error = "missing attribute name";
            return false;
        }
        error = null;
        return true;
    }
}
