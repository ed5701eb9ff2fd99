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
        Text("imapd_mailbox", "Maildir/", "The mailbox IMAP/POP3 serve and lmtpd delivers to, relative to the user's home in the user database; a trailing / means Maildir."),
        Text("imapd_tls_cert_file", "$smtpd_tls_cert_file", "PEM certificate of the IMAP/POP3 server; with one, STARTTLS and STLS are offered."),
        Text("imapd_tls_key_file", "$smtpd_tls_key_file", "PEM private key of the IMAP/POP3 server."),
        List("imapd_tls_protocols", "$smtpd_tls_protocols", "TLS protocols the IMAP/POP3 server uses."),
        Bool("imapd_tls_wrappermode", "no", "TLS from the first byte (RFC 8314 implicit TLS), for the imaps/pop3s rows with -o."),
        // lmtpd (RFC 2033): delivery into the same Maildir store, users from the same database.
        Time("lmtpd_timeout", "300s", "How long lmtpd waits for the LMTP client (as smtpd_timeout)."),
        Num("lmtpd_recipient_limit", "1000", "Recipients accepted in one LMTP transaction (as smtpd_recipient_limit)."),
    ];
}
