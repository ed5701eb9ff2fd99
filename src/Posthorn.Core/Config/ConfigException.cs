namespace Posthorn.Config;

/// <summary>A configuration file that cannot be used: an unparsable line, a bad value, a missing file.</summary>
/// <remarks>The message reads as Postfix's: <c>/etc/postfix/main.cf, line 7: missing '=' after attribute name: "garbage"</c>.
/// <see cref="Line"/> is 0 when the problem is not tied to one line.</remarks>
public sealed class ConfigException : Exception
{
    public ConfigException(string file, int line, string detail)
        : base(line > 0 ? $"{file}, line {line}: {detail}" : detail)
    {
        File = file;
        Line = line;
        Detail = detail;
    }

    /// <summary>The file the problem is in.</summary>
    public string File { get; }

    /// <summary>The line number (1-based) of the logical line, 0 when unknown.</summary>
    public int Line { get; }

    /// <summary>The message without the file and line prefix.</summary>
    public string Detail { get; }
}
