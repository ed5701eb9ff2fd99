namespace Posthorn.Logging;

/// <summary>imapd's and pop3d's lines, worded as Dovecot 2.3 logs them, so that Dovecot log tools and
/// fail2ban's dovecot filter find what they look for: <c>host dovecot[PID]: imap-login: …</c> (Dovecot's syslog
/// ident, whatever syslog_name says). <c>service</c> is "imap" or "pop3"; the process part is
/// <c>imap-login</c> before login and <c>imap(USER)</c> after it, as in Dovecot.</summary>
public sealed partial class MailLog
{
    /// <summary><c>imap-login: Login: user=&lt;alice&gt;, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, secured, session=&lt;ID&gt;</c></summary>
    public void ImapLogin(string service, string user, string method, string remoteIp, string localIp, string security, string sessionId) =>
        DovecotInfo(service + "-login", $"Login: user=<{user}>, method={method}, rip={remoteIp}, lip={localIp}{Security(security)}, session=<{sessionId}>");

    /// <summary><c>imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=&lt;alice&gt;, method=PLAIN, rip=…, lip=…, secured, session=&lt;ID&gt;</c>;
    /// also <c>(no auth attempts in 0 secs)</c> with an empty user.</summary>
    public void ImapLoginDisconnected(string service, string reason, string user, string? method, string remoteIp, string localIp,
        string security, string sessionId)
    {
        string m = method is null ? "" : $", method={method}";
        DovecotInfo(service + "-login", $"Disconnected ({reason}): user=<{user}>{m}, rip={remoteIp}, lip={localIp}{Security(security)}, session=<{sessionId}>");
    }

    /// <summary><c>imap(alice): Disconnected: Logged out in=123 out=456</c>; for POP3 the counters are
    /// <c>top=0/0, retr=1/812, del=1/1, size=812</c>. <paramref name="reason"/> is "Logged out",
    /// "Connection closed", "Inactivity" or "Server shutting down".</summary>
    public void ImapSessionEnd(string service, string user, string reason, string counters) =>
        DovecotInfo($"{service}({user})", $"Disconnected: {reason} {counters}");

    /// <summary><c>imap(alice): Error: text</c>: a failure of ours (the store could not be read), as Dovecot logs it.</summary>
    public void ImapError(string service, string user, string text) =>
        DovecotInfo($"{service}({user})", $"Error: {text}");

    /// <summary><c>imap-login: TLS handshaking failed: rip=192.0.2.7, lip=127.0.0.1: reason</c> (STARTTLS, STLS or implicit TLS).</summary>
    public void ImapTlsFailed(string service, string remoteIp, string localIp, string reason) =>
        DovecotInfo(service + "-login", $"TLS handshaking failed: rip={remoteIp}, lip={localIp}: {reason}");

    private static string Security(string security) => security.Length == 0 ? "" : ", " + security;
}
