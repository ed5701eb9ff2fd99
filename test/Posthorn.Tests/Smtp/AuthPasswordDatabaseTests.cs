using Xunit;
using Posthorn.Mail.Auth;
using Posthorn.Sasl;

namespace Posthorn.Tests.Smtp;

/// <summary>The Dovecot-style passwd-file and crypt(3) behind SMTP AUTH.</summary>
public class AuthPasswordDatabaseTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-auth-");

    public void Dispose() => _dir.Delete(recursive: true);

    private PasswdFile Write(params string[] lines)
    {
        string path = Path.Combine(_dir.FullName, "passwd");
        File.WriteAllLines(path, lines);
        return new PasswdFile(path);
    }

    [Theory]
    [InlineData("$6$rounds=5000$abcdefgh", "$6$")]
    [InlineData("$5$abcdefgh", "$5$")]
    [InlineData("$1$abcdefgh", "$1$")]
    public void Crypt_hashes_with_the_method_the_setting_names(string setting, string prefix)
    {
        string? hash = Crypt.Hash("secret", setting);
        Assert.NotNull(hash);
        Assert.StartsWith(prefix, hash);
        Assert.True(Crypt.Verify("secret", hash));
        Assert.False(Crypt.Verify("Secret", hash));
    }

    [Fact]
    public void Crypt_refuses_locked_and_empty_hashes()
    {
        Assert.False(Crypt.Verify("", "!"));
        Assert.False(Crypt.Verify("x", "*"));
        Assert.False(Crypt.Verify("x", ""));
    }

    [Fact]
    public async Task Passwd_file_checks_plain_and_crypt_schemes()
    {
        string sha512 = Crypt.Hash("secret", "$6$saltsalt")!;
        string md5 = Crypt.Hash("md5pass", "$1$saltsalt")!;
        var db = Write(
            "# users",
            "",
            $"alice:{{SHA512-CRYPT}}{sha512}:1000:1000::/home/alice::",
            "bob:{PLAIN}hunter2:1001:1001::/home/bob::",
            $"carol:{md5}:1002:1002::/home/carol::",    // no scheme: CRYPT
            "dave:{SSHA}c29tZXRoaW5n:1003:1003::/home/dave::",
            "bob:{PLAIN}second-entry-ignored");
        Assert.Equal(AuthResult.Success, await db.VerifyAsync("alice", "secret", default));
        Assert.Equal(AuthResult.Failure, await db.VerifyAsync("alice", "wrong", default));
        Assert.Equal(AuthResult.Success, await db.VerifyAsync("bob", "hunter2", default));
        Assert.Equal(AuthResult.Failure, await db.VerifyAsync("bob", "second-entry-ignored", default));
        Assert.Equal(AuthResult.Success, await db.VerifyAsync("carol", "md5pass", default));
        Assert.Equal(AuthResult.Failure, await db.VerifyAsync("dave", "something", default));   // unsupported scheme
        Assert.Equal(AuthResult.Failure, await db.VerifyAsync("nobody", "secret", default));
    }

    [Fact]
    public async Task Passwd_file_checks_blowfish()
    {
        // Debian's libxcrypt has bcrypt; BLF-CRYPT is one of the schemes the issue names.
        string? blf = Crypt.Hash("secret", "$2b$05$abcdefghijklmnopqrstuu");
        Assert.NotNull(blf);
        var db = Write($"erin:{{BLF-CRYPT}}{blf}:1004:1004::/home/erin::");
        Assert.Equal(AuthResult.Success, await db.VerifyAsync("erin", "secret", default));
        Assert.Equal(AuthResult.Failure, await db.VerifyAsync("erin", "secreT", default));
    }

    [Fact]
    public async Task Passwd_file_checks_argon2_with_the_reference_vector_and_dovecot_style_fields()
    {
        // The reference implementation's documented example: "password", salt "somesalt", t=2, m=64 MiB, p=4, 24 bytes.
        const string argon2i = "$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";
        Assert.True(Argon2.Verify("password", argon2i, Argon2.Variant.Argon2i));
        Assert.False(Argon2.Verify("password", argon2i, Argon2.Variant.Argon2id));
        string argon2id = Argon2.Hash("secret", Argon2.Variant.Argon2id, passes: 1)!;
        Assert.StartsWith("$argon2id$v=19$m=65536,t=1,p=1$", argon2id);
        var db = Write($"frank:{{ARGON2I}}{argon2i}:1005:1005::/home/frank::", $"gina:{{ARGON2ID}}{argon2id}::::/home/gina::");
        Assert.Equal(AuthResult.Success, await db.VerifyAsync("frank", "password", default));
        Assert.Equal(AuthResult.Failure, await db.VerifyAsync("frank", "Password", default));
        Assert.Equal(AuthResult.Success, await db.VerifyAsync("gina", "secret", default));
        Assert.Equal(AuthResult.Failure, await db.VerifyAsync("gina", "secret ", default));
    }

    [Fact]
    public async Task Passwd_file_is_read_again_after_a_change()
    {
        var db = Write("bob:{PLAIN}one");
        Assert.Equal(AuthResult.Success, await db.VerifyAsync("bob", "one", default));
        File.WriteAllLines(db.Path, ["bob:{PLAIN}two-longer"]);
        Assert.Equal(AuthResult.Success, await db.VerifyAsync("bob", "two-longer", default));
        Assert.Equal(AuthResult.Failure, await db.VerifyAsync("bob", "one", default));
    }

    [Fact]
    public async Task A_missing_passwd_file_is_a_temporary_failure()
    {
        var db = new PasswdFile(Path.Combine(_dir.FullName, "absent"));
        Assert.Equal(AuthResult.TemporaryFailure, await db.VerifyAsync("bob", "x", default));
    }

    [Fact]
    public async Task System_database_never_accepts_an_unknown_user()
    {
        var db = new SystemPasswordDatabase();
        Assert.NotEqual(AuthResult.Success, await db.VerifyAsync("posthorn-no-such-user", "x", default));
        Assert.NotEqual(AuthResult.Success, await db.VerifyAsync("root", "certainly-not-the-root-password-" + Guid.NewGuid(), default));
    }

    [Fact]
    public async Task Passwd_file_gives_plaintext_secrets_only_for_plain_schemes()
    {
        string sha512 = Crypt.Hash("secret", "$6$saltsalt")!;
        var db = Write($"alice:{{SHA512-CRYPT}}{sha512}", "bob:{PLAIN}hunter2", "carol:{CLEAR}pa:ss", "dave:{CLEARTEXT}d");
        Assert.True(db.HasPlaintextSecrets);
        Assert.Equal((AuthResult.Success, "hunter2"), await db.GetSecretAsync("bob", default));
        Assert.Equal((AuthResult.Success, "pa"), await db.GetSecretAsync("carol", default));   // ':' ends the field
        Assert.Equal((AuthResult.Success, "d"), await db.GetSecretAsync("dave", default));
        Assert.Equal((AuthResult.Failure, (string?)null), await db.GetSecretAsync("alice", default));
        Assert.Equal((AuthResult.Failure, (string?)null), await db.GetSecretAsync("nobody", default));
    }

    [Fact]
    public async Task Passwd_file_without_plain_entries_has_no_secrets_and_a_missing_one_fails_temporarily()
    {
        var db = Write($"alice:{{SHA512-CRYPT}}{Crypt.Hash("secret", "$6$saltsalt")}");
        Assert.False(db.HasPlaintextSecrets);
        File.WriteAllLines(db.Path, ["alice:{PLAIN}now-plain-and-longer"]);
        Assert.True(db.HasPlaintextSecrets);
        var absent = new PasswdFile(Path.Combine(_dir.FullName, "absent"));
        Assert.False(absent.HasPlaintextSecrets);
        Assert.Equal(AuthResult.TemporaryFailure, (await absent.GetSecretAsync("alice", default)).Result);
    }

    [Fact]
    public async Task Passwd_file_gives_scram_credentials_from_stored_scram_entries_and_plain_ones_only()
    {
        var stored = ScramCredentials.FromPassword(ScramHash.Sha256, "pencil", Convert.FromBase64String("W22ZaJ0SNY7soEsUEjb6gQ=="));
        var db = Write($"alice:{{SCRAM-SHA-256}}{stored}", "bob:{PLAIN}hunter2", $"carol:{{SHA512-CRYPT}}{Crypt.Hash("x", "$6$saltsalt")}");
        Assert.True(db.HasScramSecrets(ScramHash.Sha256));
        Assert.True(db.HasScramSecrets(ScramHash.Sha1));          // bob's plain password serves SCRAM-SHA-1 too

        var (result, alice) = await db.GetScramAsync("alice", ScramHash.Sha256, default);
        Assert.Equal(AuthResult.Success, result);
        Assert.Equal(stored.StoredKey, alice!.StoredKey);
        Assert.Equal(AuthResult.Failure, (await db.GetScramAsync("alice", ScramHash.Sha1, default)).Result);
        var (bobResult, bob) = await db.GetScramAsync("bob", ScramHash.Sha1, default);
        Assert.Equal(AuthResult.Success, bobResult);
        Assert.Equal(ScramCredentials.FromPassword(ScramHash.Sha1, "hunter2", bob!.Salt, bob.Iterations).StoredKey, bob.StoredKey);
        Assert.Equal(AuthResult.Failure, (await db.GetScramAsync("carol", ScramHash.Sha256, default)).Result);
        Assert.Equal(AuthResult.Failure, (await db.GetScramAsync("nobody", ScramHash.Sha256, default)).Result);

        // The stored entry checks a password given by PLAIN or LOGIN.
        Assert.Equal(AuthResult.Success, await db.VerifyAsync("alice", "pencil", default));
        Assert.Equal(AuthResult.Failure, await db.VerifyAsync("alice", "pencil2", default));
    }

    [Fact]
    public void Only_scram_sha_1_entries_offer_no_scram_sha_256()
    {
        var sha1 = ScramCredentials.FromPassword(ScramHash.Sha1, "pencil", Convert.FromBase64String("QSXCR+Q6sek8bf92"));
        var db = Write($"alice:{{SCRAM-SHA-1}}{sha1}");
        Assert.True(db.HasScramSecrets(ScramHash.Sha1));
        Assert.False(db.HasScramSecrets(ScramHash.Sha256));
        Assert.False(db.HasPlaintextSecrets);
    }
}
