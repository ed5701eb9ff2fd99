using MailKit.Security;

namespace Posthorn.Mua;

/// <summary>An RFC 5092 imap URL, <c>imap[s]://user@host[:port]</c> (the path, if any, is ignored: INBOX is opened).</summary>
public sealed record ImapUrl(bool Secure, string User, string Host, int Port)
{
    public static bool TryParse(string text, out ImapUrl url, out string problem)
    {
        url = new ImapUrl(false, "", "", 0);
        problem = "";
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("imap" or "imaps"))
        {
            problem = $"{text}: not an imap:// or imaps:// URL";
            return false;
        }
        // RFC 5092 §3.2: iuserinfo = enc-user [iauth]; ";AUTH=" selects a mechanism, not part of the name.
        string user = Uri.UnescapeDataString(uri.UserInfo.Split(';', 2)[0].Split(':', 2)[0]);
        if (user.Length == 0)
        {
            problem = $"{text}: no user name (imap://user@host)";
            return false;
        }
        bool secure = uri.Scheme == "imaps";
        url = new ImapUrl(secure, user, uri.Host.Trim('[', ']'), uri.IsDefaultPort || uri.Port < 0 ? (secure ? 993 : 143) : uri.Port);
        return true;
    }

    /// <summary>imaps: TLS from the start (RFC 8314); imap: STARTTLS when the server offers it.</summary>
    public SecureSocketOptions Tls => Secure ? SecureSocketOptions.SslOnConnect : SecureSocketOptions.StartTlsWhenAvailable;

    public override string ToString() => WithFolder("INBOX");

    /// <summary>The URL of <paramref name="folder"/> on this server, as the status line shows it.</summary>
    public string WithFolder(string folder) => $"{(Secure ? "imaps" : "imap")}://{User}@{Host}:{Port}/{folder}";
}
