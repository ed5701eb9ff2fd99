namespace Posthorn.Daemon.Tools;

/// <summary>The one-shot tools that the native front (src/Posthorn.Tools, <c>posthorn-tools</c>) runs in its own
/// process: postconf, mailq, postqueue, postsuper, sendmail. Every other command goes to the managed posthorn.</summary>
/// <remarks>This table names only these tools so that the ahead-of-time compiler reaches none of the others
/// (daemon, demo, the mail client and its terminal UI). <see cref="CommandTable"/> runs the same methods.</remarks>
public static class OneShotTools
{
    /// <summary>The names <see cref="Run"/> knows.</summary>
    public static readonly string[] Names = ["postconf", "mailq", "postqueue", "postsuper", "sendmail"];

    /// <summary>Runs tool <paramref name="name"/> with <paramref name="args"/>; null when it is not a one-shot tool.</summary>
    public static Task<int>? Run(string name, string[] args, ToolContext ctx) => name switch
    {
        "postconf" => Task.FromResult(Postconf.Run(args, ctx)),
        "mailq" => Task.FromResult(ToolShims.Mailq(args, ctx)),
        "postqueue" => Postqueue.RunAsync(args, ctx),
        "postsuper" => Task.FromResult(ToolShims.Postsuper(args, ctx)),
        "sendmail" => Sendmail.RunToolAsync(args, ctx),
        _ => null,
    };
}
