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
