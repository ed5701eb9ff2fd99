using Posthorn.Daemon.Tools;
using Posthorn.Mail.Auth;
using Xunit;

namespace Posthorn.Tests.Tools;

/// <summary><c>posthorn pw</c>, Posthorn's <c>doveadm pw</c>: every scheme it makes is one the passwd-file accepts.</summary>
public sealed class PwCommandTests
{
    private static (int Rc, string Out, string Err) Run(string stdin, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int rc = PwCommand.Run(args, new ToolContext { Out = stdout, Err = stderr, In = new StringReader(stdin), GetEnv = _ => null });
        return (rc, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData("SHA512-CRYPT", "{SHA512-CRYPT}$6$")]
    [InlineData("SHA256-CRYPT", "{SHA256-CRYPT}$5$")]
    [InlineData("sha512-crypt", "{SHA512-CRYPT}$6$")]
    [InlineData("BLF-CRYPT", "{BLF-CRYPT}$2b$")]
    [InlineData("ARGON2ID", "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$")]
    [InlineData("ARGON2I", "{ARGON2I}$argon2i$v=19$m=65536,t=3,p=1$")]
    [InlineData("SCRAM-SHA-256", "{SCRAM-SHA-256}4096,")]
    [InlineData("SCRAM-SHA-1", "{SCRAM-SHA-1}4096,")]
    [InlineData("PLAIN", "{PLAIN}pencil")]
    public void Each_scheme_makes_a_field_the_passwd_file_checks(string scheme, string prefix)
    {
        var (rc, output, err) = Run("", "-s", scheme, "-p", "pencil");
        Assert.Equal(0, rc);
        Assert.Equal("", err);
        string field = output.TrimEnd('\n');
        Assert.StartsWith(prefix, field);
        Assert.True(PasswdFile.Check("pencil", field), field);
        Assert.False(PasswdFile.Check("pencil2", field), field);
    }

    [Fact]
    public void Default_is_sha512_crypt_two_runs_differ_in_salt_and_the_password_may_come_on_stdin()
    {
        string a = Run("pencil\n").Out.TrimEnd('\n'), b = Run("pencil\n").Out.TrimEnd('\n');
        Assert.StartsWith("{SHA512-CRYPT}$6$", a);
        Assert.NotEqual(a, b);
        Assert.True(PasswdFile.Check("pencil", a));
    }

    [Fact]
    public void Rounds_reach_crypt_and_scram()
    {
        Assert.StartsWith("{SHA512-CRYPT}$6$rounds=6000$", Run("", "-p", "x", "-r", "6000").Out);
        Assert.StartsWith("{SCRAM-SHA-256}5000,", Run("", "-s", "SCRAM-SHA-256", "-p", "x", "-r", "5000").Out);
        Assert.StartsWith("{ARGON2ID}$argon2id$v=19$m=65536,t=2,p=1$", Run("", "-s", "ARGON2ID", "-p", "x", "-r", "2").Out);
    }

    [Fact]
    public void Test_mode_says_verified_or_fails_as_doveadm()
    {
        string field = Run("", "-p", "pencil").Out.TrimEnd('\n');
        var ok = Run("", "-t", field, "-p", "pencil");
        Assert.Equal((0, $"{field} (verified)\n"), (ok.Rc, ok.Out));
        var bad = Run("", "-t", field, "-p", "wrong");
        Assert.Equal(1, bad.Rc);
        Assert.Equal("Fatal: reverse password verification check failed: Password mismatch\n", bad.Err);
    }

    [Fact]
    public void Unknown_schemes_and_bad_usage_fail()
    {
        Assert.Equal((1, "Fatal: Unknown scheme: MD4\n"), (Run("", "-s", "md4", "-p", "x").Rc, Run("", "-s", "md4", "-p", "x").Err));
        Assert.Equal(64, Run("", "-q").Rc);
        Assert.Equal(1, Run("", "-r", "many", "-p", "x").Rc);
        Assert.Contains("SCRAM-SHA-256", Run("", "-l").Out);
    }
}
