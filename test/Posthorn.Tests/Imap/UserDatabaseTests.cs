using Posthorn.Daemon.Master;
using Posthorn.Mail.Auth;
using Xunit;

namespace Posthorn.Tests.Imap;

/// <summary>The one user database behind SMTP AUTH, imapd, pop3d and lmtpd: logins and lookups give the
/// account's home, uid and gid, and imapd's resolver turns that into the Maildir.</summary>
public sealed class UserDatabaseTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-userdb-");

    public void Dispose() => _dir.Delete(recursive: true);

    private PasswdFile Write(string text)
    {
        string path = Path.Combine(_dir.FullName, "passwd");
        File.WriteAllText(path, text);
        return new PasswdFile(path);
    }

    [Fact]
    public async Task Passwd_file_login_and_lookup_return_home_uid_and_gid()
    {
        string sha512 = Crypt.Hash("secret", "$6$saltsalt")!;
        var db = Write($"alice:{{SHA512-CRYPT}}{sha512}:1000:1001::/home/alice::\nbob:{{PLAIN}}pw:::::\n");
        var login = await db.LoginAsync("alice", "secret", default);
        Assert.Equal(AuthResult.Success, login.Result);
        Assert.Equal(new MailUser("alice", 1000, 1001, "/home/alice"), login.User);
        Assert.Equal("/home/alice/Maildir/", login.User!.MailboxPath("Maildir/"));
        Assert.Equal("/home/alice", login.User.MailboxPath(""));   // imapd_mailbox empty: the home is the Maildir

        var wrong = await db.LoginAsync("alice", "Secret", default);
        Assert.Equal(AuthResult.Failure, wrong.Result);
        Assert.Null(wrong.User);

        // userdb lookup without a password (lmtpd); empty uid/gid/home fields are allowed (Dovecot).
        var bob = await db.FindAsync("bob", default);
        Assert.Equal(new MailUser("bob", null, null, ""), bob.User);
        Assert.Null(bob.User!.MailboxPath("Maildir/"));
        Assert.Equal(AuthResult.Failure, (await db.FindAsync("carol", default)).Result);
    }

    [Fact]
    public async Task A_missing_file_is_a_temporary_failure_for_logins_and_lookups()
    {
        var db = new PasswdFile(Path.Combine(_dir.FullName, "absent"));
        Assert.Equal(AuthResult.TemporaryFailure, (await db.LoginAsync("bob", "x", default)).Result);
        Assert.Equal(AuthResult.TemporaryFailure, (await db.FindAsync("bob", default)).Result);
    }

    [Fact]
    public async Task Imap_resolver_gives_the_mailbox_under_the_home_and_refuses_what_the_database_refuses()
    {
        var db = Write("alice:{PLAIN}secret:1000:1000::/srv/mail/alice::\nnohome:{PLAIN}x:1000:1000::::\n");
        var resolver = new UserDatabaseImapResolver(db, "Mail/box/");
        var alice = await resolver.AuthenticateAsync("alice", "secret", default);
        Assert.NotNull(alice);
        Assert.Equal("alice", alice.Name);
        Assert.Equal("/srv/mail/alice/Mail/box/", alice.Maildir);
        Assert.Null(await resolver.AuthenticateAsync("alice", "wrong", default));
        Assert.Null(await resolver.AuthenticateAsync("nohome", "x", default));
        Assert.Null(await resolver.AuthenticateAsync("ghost", "x", default));
    }

    [Fact]
    public async Task System_accounts_are_found_through_getpwnam_and_open_picks_the_database()
    {
        // root exists on every system, with home in /etc/passwd; no password is needed for a lookup.
        var root = await new SystemPasswordDatabase().FindAsync("root", default);
        Assert.Equal(AuthResult.Success, root.Result);
        Assert.Equal(0, root.User!.Uid);
        Assert.False(string.IsNullOrEmpty(root.User.Home));
        Assert.Equal(AuthResult.Failure, (await new SystemPasswordDatabase().FindAsync("posthorn-no-such-user", default)).Result);

        Assert.IsType<SystemPasswordDatabase>(UserDatabase.Open(""));
        Assert.IsType<PasswdFile>(UserDatabase.Open(Path.Combine(_dir.FullName, "passwd")));
    }
}
