using System.IO.Pipelines;

namespace Posthorn.Imap;

/// <summary>The end of a connection of imapd, pop3d or lmtpd, whatever ended it.</summary>
internal static class SessionEnd
{
    /// <summary>Completes the session's pipes and closes the stream. Completing the writer flushes what is still
    /// buffered; when the client has already gone (EPIPE, ECONNRESET) that has nowhere to go, and the session ends as
    /// it would have anyway instead of failing in its cleanup.</summary>
    public static async ValueTask CloseAsync(PipeReader input, PipeWriter output, Stream stream)
    {
        await input.CompleteAsync();
        try
        {
            await output.CompleteAsync();
        }
        catch (IOException)
        {
        }
        await stream.DisposeAsync();
    }
}
