using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

/// <summary>FsIdentity.Become: a scope for the identity the thread already holds makes no switch (and its end
/// does not undo the outer one); a scope for another identity switches, and its end returns to the outer one.</summary>
public class FsIdentityTests
{
    private const uint Nobody = 65534;
    private const uint Daemon = 1;

    /// <summary>The calling thread's fsuid and fsgid (an invalid id changes nothing and returns the current one).</summary>
    private static (uint Uid, uint Gid) FsIds() => ((uint)LibC.setfsuid(uint.MaxValue), (uint)LibC.setfsgid(uint.MaxValue));

    private static uint[] Groups()
    {
        int n = LibC.getgroups(0, null);
        var g = new uint[Math.Max(n, 0)];
        if (n > 0) LibC.getgroups(n, g);
        return g;
    }

    /// <summary>Runs <paramref name="body"/> on a dedicated (non-pool) thread, as Become requires.</summary>
    private static void OnOwnThread(Action body)
    {
        Exception? failure = null;
        var t = new Thread(() =>
        {
            try { body(); }
            catch (Exception e) { failure = e; }
        });
        t.Start();
        t.Join();
        if (failure is not null) throw new Xunit.Sdk.XunitException(failure.ToString());
    }

    [Fact]
    public void SameIdentityInsideAScopeIsNotSwitchedAgainAndKeepsTheOuterScope()
    {
        OnOwnThread(() =>
        {
            if (!LibC.IsRoot)
            {
                using (FsIdentity.Become(Nobody, Nobody)) Assert.Null(FsIdentity.Current);   // unprivileged: no switch at all
                return;
            }
            var home = FsIds();
            var groups = Groups();
            using (FsIdentity.Become(Nobody, Nobody))
            {
                Assert.Equal((Nobody, Nobody), FsIds());
                using (FsIdentity.Become(Nobody, Nobody))
                    Assert.Equal((Nobody, Nobody), FsIds());
                // The inner scope's end must not have returned the thread to root.
                Assert.Equal((Nobody, Nobody), FsIds());
                Assert.Equal<uint[]>([Nobody], Groups());
                Assert.Equal((Nobody, Nobody), FsIdentity.Current);
            }
            Assert.Equal(home, FsIds());
            Assert.Equal(groups, Groups());
            Assert.Null(FsIdentity.Current);
        });
    }

    [Fact]
    public void AnotherIdentityInsideAScopeIsSwitchedAndItsEndReturnsToTheOuterOne()
    {
        OnOwnThread(() =>
        {
            if (!LibC.IsRoot) return;
            var home = FsIds();
            var groups = Groups();
            using (FsIdentity.Become(Nobody, Nobody))
            {
                using (FsIdentity.Become(Daemon, Daemon))
                {
                    Assert.Equal((Daemon, Daemon), FsIds());
                    Assert.Equal<uint[]>([Daemon], Groups());
                }
                Assert.Equal((Nobody, Nobody), FsIds());
                Assert.Equal<uint[]>([Nobody], Groups());
            }
            Assert.Equal(home, FsIds());
            Assert.Equal(groups, Groups());
        });
    }

    [Fact]
    public async Task SuccessiveScopesOfOneDeliveryEachSwitchAndRestoreTheThreadsOwnGroups()
    {
        var seen = await FsIdentity.RunOnDedicatedThreadAsync(() =>
        {
            var home = (Ids: FsIds(), Groups: Groups());
            var inside = new List<(uint, uint)>();
            for (int i = 0; i < 2; i++)
            {
                using (FsIdentity.Become(i == 0 ? Nobody : Daemon, i == 0 ? Nobody : Daemon)) inside.Add(FsIds());
                Assert.Equal(home.Ids, FsIds());
                Assert.Equal(home.Groups, Groups());
            }
            return inside;
        });
        if (LibC.IsRoot) Assert.Equal([(Nobody, Nobody), (Daemon, Daemon)], seen);
        else Assert.Equal(2, seen.Count);
    }
}
