using System.Text;
using MailKit;
using MailKit.Security;

namespace Posthorn.Mua;

/// <summary><c>posthorn mail --imap imap[s]://user@host[:port] [--ca-file FILE | --insecure]</c>: the full-screen
/// reader over an IMAP INBOX (other folders with c). The certificate is checked by <see cref="ImapTrust"/>.
/// The password comes from POSTHORN_IMAP_PASSWORD, else from a prompt on the terminal (not echoed).</summary>
public static class ImapReader
{
    /// <param name="insecure">--insecure: accept any server certificate.</param>
    /// <param name="caFile">--ca-file: also trust the certificates of this PEM file.</param>
    public static int Run(string urlText, MuaContext ctx, bool insecure = false, string? caFile = null)
    {
        if (!ImapUrl.TryParse(urlText, out var url, out string problem)) return MailProgram.Fail(ctx, problem);
        ImapTrust trust;
        try
        {
            trust = insecure ? ImapTrust.AcceptAny() : caFile is not null ? ImapTrust.WithCaFile(caFile) : new ImapTrust();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return MailProgram.Fail(ctx, e.Message);
        }
        string? password = ctx.GetEnv("POSTHORN_IMAP_PASSWORD") ?? AskPassword(ctx, url);
        if (password is null) return MailProgram.Fail(ctx, "no password (set POSTHORN_IMAP_PASSWORD)");
        ImapMailbox box;
        try
        {
            box = ImapMailbox.Open(url, password, trust);
        }
        catch (AuthenticationException)
        {
            return MailProgram.Fail(ctx, $"{url}: login failed");
        }
        catch (SslHandshakeException e)
        {
            if (trust.Problem is { } why)
                return MailProgram.Fail(ctx, $"{url}: certificate verification failed: {why}; "
                    + "to trust this server give --ca-file FILE with its certificate (or its CA's), or --insecure to skip the check");
            return MailProgram.Fail(ctx, $"{url}: TLS handshake failed: {e.Message.Split('\n')[0].Trim()}");
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or MailKit.Net.Imap.ImapCommandException or MailKit.ProtocolException)
        {
            return MailProgram.Fail(ctx, $"{url}: {e.Message}");
        }
        using (box) return Tui.TuiProgram.Run(box, ctx);
    }

    /// <summary>Reads the password from the terminal without echo; null at end of input.</summary>
    private static string? AskPassword(MuaContext ctx, ImapUrl url)
    {
        ctx.Err.Write($"Password for {url.User}@{url.Host}: ");
        ctx.Err.Flush();
        if (Console.IsInputRedirected) return ctx.In.ReadLine();
        var sb = new StringBuilder();
        while (true)
        {
            var k = Console.ReadKey(intercept: true);
            if (k.Key == ConsoleKey.Enter) break;
            if (k.Key == ConsoleKey.Backspace) { if (sb.Length > 0) sb.Length--; continue; }
            if (k.KeyChar != '\0') sb.Append(k.KeyChar);
        }
        ctx.Err.WriteLine();
        return sb.ToString();
    }
}
