namespace Posthorn.Daemon.Tools;

/// <summary>What a command-line tool may touch: its streams and its environment. Tests pass their own.</summary>
public sealed class ToolContext
{
    public TextWriter Out { get; init; } = Console.Out;
    public TextWriter Err { get; init; } = Console.Error;
    public TextReader In { get; init; } = Console.In;
    public Func<Stream> OpenStdin { get; init; } = Console.OpenStandardInput;
    /// <summary>Environment lookups (MAIL_CONFIG, USER, LOGNAME, …).</summary>
    public Func<string, string?> GetEnv { get; init; } = Environment.GetEnvironmentVariable;
    public TimeProvider Clock { get; init; } = TimeProvider.System;
    /// <summary>The path of the posthorn executable, for tools that start the daemon.</summary>
    public string? ExecutablePath { get; init; } = Environment.ProcessPath;

    /// <summary>Postfix's default configuration directory.</summary>
    public const string DefaultConfigDirectory = "/etc/postfix";

    /// <summary>The config directory as Postfix chooses it: <c>-c DIR</c>, else MAIL_CONFIG, else /etc/postfix.</summary>
    public string ConfigDirectory(string? dashC) =>
        dashC ?? (GetEnv("MAIL_CONFIG") is { Length: > 0 } env ? env : DefaultConfigDirectory);
}
