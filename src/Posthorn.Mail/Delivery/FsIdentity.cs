namespace Posthorn.Mail.Delivery;

/// <summary>Runs file work as another user: a dedicated thread whose filesystem uid, gid and
/// supplementary groups are switched, which on Linux affects that thread only.</summary>
/// <remarks>
/// DESIGN.md decision 6: local delivery writes as the recipient, never as root into a place the
/// user controls. setfsuid(2)/setfsgid(2) are per thread, and a change of fsuid from 0 clears
/// the thread's filesystem capabilities (CAP_DAC_OVERRIDE, CAP_CHOWN, CAP_FOWNER …), so every
/// open, mkdir, rename and unlink on the thread is checked as the user. glibc's setgroups(3)
/// changes every thread of the process, so the raw system call is used for the groups.
/// Security: the switch happens only on a thread created for the purpose, and is undone before
/// the thread ends; thread-pool threads are never switched.
/// </remarks>
internal static class FsIdentity
{
    /// <summary>The delivery threads: dedicated (never thread-pool) threads, reused between
    /// deliveries because starting an OS thread per message was the largest CPU cost of local
    /// delivery. Process-wide like the thread pool itself; it holds no configuration.</summary>
    private static readonly DedicatedThreads Threads = new("posthorn local delivery", maxThreads: 16, idleTimeout: TimeSpan.FromSeconds(30));

    /// <summary>Runs <paramref name="work"/> on a dedicated delivery thread and returns its result.</summary>
    public static Task<T> RunOnDedicatedThreadAsync<T>(Func<T> work) => Threads.Run(() =>
    {
        // A daemon that dropped to mail_owner keeps root as its saved id: this thread alone
        // becomes root again for the delivery, and lowers itself before the next work item.
        var lowered = ThreadCredentials.RaiseToSavedRoot();
        try { return work(); }
        finally { if (lowered is { } to) ThreadCredentials.Lower(to); }
    });

    /// <summary>Switches the calling (dedicated) thread to <paramref name="uid"/>/<paramref name="gid"/>
    /// until the returned scope is disposed. A no-op when the process is not root.</summary>
    /// <exception cref="DeliveryIOException">the switch did not take effect.</exception>
    public static IDisposable Become(uint uid, uint gid)
    {
        if (!LibC.IsRoot) return NoSwitch.Instance;
        if (Thread.CurrentThread.IsThreadPoolThread)
            throw new InvalidOperationException("filesystem identity may only change on a dedicated thread");
        int count = LibC.getgroups(0, null);
        var saved = new uint[Math.Max(count, 0)];
        if (count > 0) LibC.getgroups(count, saved);
        uint savedGid = LibC.getegid();
        var scope = new Scope(saved, savedGid);
        if (!LibC.SetThreadGroups([gid]))
            throw new DeliveryIOException(LibC.Errno, "cannot set supplementary groups");
        LibC.setfsgid(gid);
        LibC.setfsuid(uid);
        // setfsuid returns the previous value and cannot report failure; ask for an invalid id to read it back.
        if ((uint)LibC.setfsuid(uint.MaxValue) != uid || (uint)LibC.setfsgid(uint.MaxValue) != gid)
        {
            scope.Dispose();
            throw new DeliveryIOException(LibC.EPERM, "cannot switch file system identity");
        }
        return scope;
    }

    private sealed class Scope(uint[] groups, uint gid) : IDisposable
    {
        public void Dispose()
        {
            LibC.setfsuid(0);
            LibC.setfsgid(gid);
            LibC.SetThreadGroups(groups);
        }
    }

    private sealed class NoSwitch : IDisposable
    {
        public static readonly NoSwitch Instance = new();
        public void Dispose() { }
    }
}
