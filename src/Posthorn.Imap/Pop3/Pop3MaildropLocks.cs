using System.Collections.Concurrent;

namespace Posthorn.Pop3;

/// <summary>The maildrops that a POP3 session holds: RFC 1939 §8 asks the server to lock a maildrop from the
/// moment a session enters the TRANSACTION state until it leaves it, so that a second session of the same user
/// is refused (RFC 2449 §8.1.1, the IN-USE response code) instead of seeing messages the first may delete.</summary>
/// <remarks>One instance serves every pop3d row of the daemon (pop3 and pop3s share it). The lock is held in the
/// daemon, by user name: the maildrop of a user is that user's INBOX. DEVIATION: another process (a second
/// daemon, or Dovecot on the same Maildir) does not see it; IMAP sessions are not locked out, as in Dovecot
/// with pop3_lock_session = yes.</remarks>
public sealed class Pop3MaildropLocks
{
    private readonly ConcurrentDictionary<string, byte> _held = new(StringComparer.Ordinal);

    /// <summary>Takes the maildrop of <paramref name="user"/>; false while another session holds it.</summary>
    public bool TryAcquire(string user) => _held.TryAdd(user, 0);

    public void Release(string user) => _held.TryRemove(user, out _);
}
