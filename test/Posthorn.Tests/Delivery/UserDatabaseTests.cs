using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

public class UserDatabaseTests
{
    [Fact]
    public void Passwd_lookup_finds_root_and_is_case_sensitive()
    {
        var db = new PasswdUserDatabase();
        Assert.True(db.TryGetUser("root", out var root));
        Assert.Equal((0, 0, "root"), (root.Uid, root.Gid, root.Name));
        Assert.False(string.IsNullOrEmpty(root.Home));
        Assert.False(db.TryGetUser("ROOT", out _));
        Assert.False(db.TryGetUser("no-such-user-posthorn", out _));
        Assert.False(db.TryGetUser("", out _));
    }
}

/// <summary>The daemon's short memory of accounts (RecentUsers): one system lookup per account and second, accounts
/// that were not there found as soon as they are.</summary>
public class RecentUsersTests
{
    /// <summary>The accounts of the moment, counting the lookups that reach it.</summary>
    private sealed class Accounts : IUserDatabase
    {
        public readonly Dictionary<string, SystemUser> Now = [];
        public int Asked;

        public bool TryGetUser(string name, out SystemUser user)
        {
            Asked++;
            return Now.TryGetValue(name, out user!);
        }
    }

    [Fact]
    public void An_account_found_is_not_asked_for_again_within_its_time()
    {
        var system = new Accounts { Now = { ["alice"] = new SystemUser("alice", 1001, 1001, "/home/alice", "/bin/sh") } };
        var users = new RecentUsers(system, TimeSpan.FromHours(1));
        Assert.True(users.TryGetUser("alice", out var first));
        Assert.True(users.TryGetUser("alice", out var second));
        Assert.Same(first, second);
        Assert.Equal(1, system.Asked);
    }

    [Fact]
    public void An_account_not_found_is_found_as_soon_as_it_exists()
    {
        var system = new Accounts();
        var users = new RecentUsers(system, TimeSpan.FromHours(1));
        Assert.False(users.TryGetUser("bob", out _));
        system.Now["bob"] = new SystemUser("bob", 1002, 1002, "/home/bob", "/bin/sh");
        Assert.True(users.TryGetUser("bob", out var bob));
        Assert.Equal("/home/bob", bob.Home);
    }

    [Fact]
    public void Once_its_time_is_over_an_account_is_asked_for_again_and_a_change_is_seen()
    {
        var system = new Accounts { Now = { ["alice"] = new SystemUser("alice", 1001, 1001, "/home/alice", "/bin/sh") } };
        var users = new RecentUsers(system, TimeSpan.Zero);
        Assert.True(users.TryGetUser("alice", out _));
        system.Now["alice"] = new SystemUser("alice", 1001, 1001, "/srv/alice", "/bin/sh");
        Assert.True(users.TryGetUser("alice", out var moved));
        Assert.Equal("/srv/alice", moved.Home);
        system.Now.Remove("alice");
        Assert.False(users.TryGetUser("alice", out _));
        Assert.Equal(3, system.Asked);
    }

    [Fact]
    public void A_flood_of_different_names_does_not_grow_the_memory_past_its_capacity()
    {
        var system = new Accounts();
        for (int i = 0; i <= RecentUsers.Capacity; i++) system.Now[$"u{i}"] = new SystemUser($"u{i}", 2000 + i, 2000, $"/home/u{i}", "/bin/sh");
        var users = new RecentUsers(system, TimeSpan.FromHours(1));
        for (int i = 0; i <= RecentUsers.Capacity; i++) Assert.True(users.TryGetUser($"u{i}", out _));
        // u0 was forgotten when the memory filled up: the system is asked again.
        Assert.True(users.TryGetUser("u0", out _));
        Assert.Equal(RecentUsers.Capacity + 2, system.Asked);
    }
}
