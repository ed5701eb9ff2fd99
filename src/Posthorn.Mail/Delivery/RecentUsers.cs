using System.Collections.Concurrent;

namespace Posthorn.Mail.Delivery;

/// <summary>Remembers the accounts <paramref name="inner"/> found, for <paramref name="ttl"/>: the RCPT TO check of a
/// session and the delivery that follows it a few milliseconds later, and the messages of a flood to one user, ask the
/// system once.</summary>
/// <remarks>
/// Only accounts found are remembered, so a new account gets mail at once; one removed or changed may still be used
/// for <paramref name="ttl"/> (one second in the daemon). DEVIATION: Postfix's smtpd (through proxymap) and local(8)
/// call getpwnam(3) every time; nscd, where it runs, remembers answers for ten minutes. With NSS "files" every
/// getpwnam_r(3) opens, reads and closes /etc/passwd and looks at nsswitch.conf: 14 of the ~150 system calls of a
/// delivered message under SMTP load (strace, issue 9). Lookups by uid are not remembered (alias map owners, rare).
/// The time is the machine's monotonic clock, not the daemon's TimeProvider: this is a cache, not mail's time.
/// </remarks>
public sealed class RecentUsers(IUserDatabase inner, TimeSpan ttl) : IUserDatabase
{
    /// <summary>Names remembered at most; when full, all are forgotten (a flood of different names gains nothing).</summary>
    internal const int Capacity = 4096;

    private readonly ConcurrentDictionary<string, (SystemUser User, long Until)> _byName = new(StringComparer.Ordinal);
    private readonly long _ttlMs = (long)ttl.TotalMilliseconds;

    public bool TryGetUser(string name, out SystemUser user)
    {
        long now = Environment.TickCount64;
        if (_byName.TryGetValue(name, out var known) && now < known.Until)
        {
            user = known.User;
            return true;
        }
        if (!inner.TryGetUser(name, out user))
        {
            _byName.TryRemove(name, out _);
            return false;
        }
        if (_byName.Count >= Capacity) _byName.Clear();
        _byName[name] = (user, now + _ttlMs);
        return true;
    }

    public bool TryGetUserById(int uid, out SystemUser user) => inner.TryGetUserById(uid, out user);
}
