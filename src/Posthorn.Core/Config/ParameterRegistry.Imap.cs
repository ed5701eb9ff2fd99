namespace Posthorn.Config;

public static partial class ParameterRegistry
{
    /// <summary>imapd/pop3d/lmtpd (the Dovecot role).</summary>
    private static IEnumerable<Parameter> ImapParameters() =>
    [
        // imapd / pop3d (the Dovecot role): Posthorn's own parameters, named after Dovecot's settings.
        Bool("imapd_disable_plaintext_auth", "yes", "Refuse LOGIN and plaintext AUTHENTICATE except over TLS or from loopback (Dovecot disable_plaintext_auth)."),
        Size("imapd_max_literal_size", "$message_size_limit", "Largest IMAP literal accepted, advertised as APPENDLIMIT."),
        Num("imapd_max_line_length", "65536", "Longest IMAP command line (Dovecot imap_max_line_length)."),
        Time("imapd_timeout", "30m", "IMAP autologout timer (RFC 9051 §5.4); also bounds IDLE."),
        Time("imapd_auth_failure_delay", "2s", "Delay before answering a failed login (Dovecot auth_failure_delay)."),
        Text("imapd_mailbox", "Maildir/", "The mailbox IMAP/POP3 serve, relative to the user's home from posthorn_passwd_file; a trailing / means Maildir."),
    ];
}
