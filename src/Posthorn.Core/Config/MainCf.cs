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
            if (!TrySplitNameValue(logical.Text, out string name, out string value, out string? error))
                throw new ConfigException(fileName, logical.Line, $"{error}: \"{logical.Text}\"");
            entries.Add(new MainCfEntry(name, value, logical));
        }
        return entries;
    }

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
