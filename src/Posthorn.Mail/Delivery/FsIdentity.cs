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
    public static Task<T> RunOnDedicatedThreadAsync<T>(Func<T> work) => Threads.Run(() => Raised(() => AsWorkItem(work)));

    /// <summary>Starts <paramref name="runner"/> on a delivery thread, raised as for one work item; the runner makes
    /// its deliveries through <see cref="AsWorkItem{T}"/> (<see cref="DeliveryLanes"/>). Its exceptions are its own:
    /// it must not throw.</summary>
    internal static void StartRunner(Action runner) => _ = Threads.Run(() => Raised(() =>
    {
        runner();
        return true;
    }));

    /// <summary>One delivery on the calling delivery thread: the thread's own groups are read again for it.</summary>
    internal static T AsWorkItem<T>(Func<T> work)
    {
        (t_homeGroups, t_inWorkItem) = (null, true);
        try { return work(); }
        finally { (t_homeGroups, t_inWorkItem) = (null, false); }
    }

    /// <summary>A daemon that dropped to mail_owner keeps root as its saved id: the delivery thread alone becomes root
    /// again for <paramref name="work"/>, and lowers itself before it takes the next work item.</summary>
    private static T Raised<T>(Func<T> work)
    {
        var lowered = ThreadCredentials.RaiseToSavedRoot();
        try { return work(); }
        finally
        {
            if (lowered is { } to) ThreadCredentials.Lower(to);
        }
    }

    /// <summary>The identity the calling thread is switched to inside a <see cref="Become"/> scope; null at home
    /// (the daemon's own). Mirrors the kernel's per-thread credentials, so it is per thread by necessity.</summary>
    [ThreadStatic] private static Identity? t_current;

    /// <summary>The thread's own supplementary groups, read at the first switch of a work item.</summary>
    [ThreadStatic] private static uint[]? t_homeGroups;

    /// <summary>True while the thread runs a delivery (<see cref="AsWorkItem{T}"/>).</summary>
    [ThreadStatic] private static bool t_inWorkItem;

    /// <summary>A filesystem identity: fsuid, fsgid and the single supplementary group gid.</summary>
    private readonly record struct Identity(uint Uid, uint Gid);

    /// <summary>The identity the calling thread holds inside <see cref="Become"/> scopes (null: the daemon's own);
    /// for tests.</summary>
    internal static (uint Uid, uint Gid)? Current => t_current is { } c ? (c.Uid, c.Gid) : null;

    /// <summary>Switches the calling (dedicated) thread to <paramref name="uid"/>/<paramref name="gid"/>
    /// until the returned scope is disposed, which returns it to the identity it had before. A no-op when the
    /// process is not root, and when the thread already is that identity (a scope inside a scope for the same
    /// user, e.g. a .forward read during the expansion of another .forward of that user): no system call.</summary>
    /// <exception cref="DeliveryIOException">the switch did not take effect.</exception>
    public static IDisposable Become(uint uid, uint gid)
    {
        if (!LibC.IsRoot) return NoSwitch.Instance;
        if (Thread.CurrentThread.IsThreadPoolThread)
            throw new InvalidOperationException("filesystem identity may only change on a dedicated thread");
        var to = new Identity(uid, gid);
        var previous = t_current;
        if (previous == to) return NoSwitch.Instance;
        var scope = previous is null ? new Scope(null, HomeGroups(), LibC.getegid()) : new Scope(previous, [], 0);
        Switch(to, scope);
        return scope;
    }

    /// <summary>The thread's own groups, read with getgroups(2) at the first switch of a delivery work item and
    /// kept until it ends (outside a work item: read at every switch).</summary>
    private static uint[] HomeGroups()
    {
        if (t_homeGroups is { } cached) return cached;
        int count = LibC.getgroups(0, null);
        var groups = new uint[Math.Max(count, 0)];
        if (count > 0) LibC.getgroups(count, groups);
        if (t_inWorkItem) t_homeGroups = groups;
        return groups;
    }

    private static void Switch(Identity to, Scope undo)
    {
        if (!LibC.SetThreadGroups([to.Gid]))
        {
            int errno = LibC.Errno;
            undo.Dispose();
            throw new DeliveryIOException(errno, "cannot set supplementary groups");
        }
        LibC.setfsgid(to.Gid);
        LibC.setfsuid(to.Uid);
        t_current = to;
        // setfsuid returns the previous value and cannot report failure; ask for an invalid id to read it back.
        if ((uint)LibC.setfsuid(uint.MaxValue) != to.Uid || (uint)LibC.setfsgid(uint.MaxValue) != to.Gid)
        {
            undo.Dispose();
            throw new DeliveryIOException(LibC.EPERM, "cannot switch file system identity");
        }
    }

    /// <summary>Returns the thread to the identity before the scope: the daemon's own, or the enclosing scope's user.</summary>
    private sealed class Scope(Identity? previous, uint[] homeGroups, uint homeGid) : IDisposable
    {
        public void Dispose()
        {
            if (previous is { } p)
            {
                LibC.SetThreadGroups([p.Gid]);
                LibC.setfsgid(p.Gid);
                LibC.setfsuid(p.Uid);
            }
            else
            {
                LibC.setfsuid(0);
                LibC.setfsgid(homeGid);
                LibC.SetThreadGroups(homeGroups);
            }
            t_current = previous;
        }
    }

    private sealed class NoSwitch : IDisposable
    {
        public static readonly NoSwitch Instance = new();
        public void Dispose() { }
    }
}
