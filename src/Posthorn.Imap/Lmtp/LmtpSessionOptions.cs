namespace Posthorn.Lmtp;

/// <summary>Settings of one lmtpd connection.</summary>
/// <remarks>Parameters (main.cf, read by the daemon): myhostname, lmtpd_timeout (default 300s),
/// message_size_limit (advertised as SIZE), lmtpd_recipient_limit (default 1000), queue_directory
/// (the spool for DATA lives under it).</remarks>
public sealed record LmtpSessionOptions
{
    /// <summary>The name in the greeting and the Received header.</summary>
    public string Hostname { get; init; } = "localhost";
    /// <summary>The peer for logs and the Received header: an IP address, or "local" for a Unix socket.</summary>
    public string Client { get; init; } = "local";
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(300);
    /// <summary>The largest message in bytes; 0 means no limit.</summary>
    public long MessageSizeLimit { get; init; } = 10_240_000;
    public int RecipientLimit { get; init; } = 1000;
    /// <summary>RFC 5321 §4.5.3.1.4–6 allow 512-byte commands and 1000-byte text lines; we refuse
    /// commands beyond this, and take longer DATA lines in pieces.</summary>
    public int MaxLineLength { get; init; } = 2048;
    /// <summary>A directory the daemon can write: each DATA is spooled there, then deleted.</summary>
    public string SpoolDirectory { get; init; } = "";
    /// <summary>The transaction id prefix in logs and replies; the daemon makes one per connection.</summary>
    public string SessionId { get; init; } = "";
}
