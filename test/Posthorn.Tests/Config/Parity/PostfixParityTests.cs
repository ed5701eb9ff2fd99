using Posthorn.Config;
using Xunit;
using Xunit.Abstractions;

namespace Posthorn.Tests.Config.Parity;

/// <summary>Side by side: the real Postfix tools (Debian's postfix package, /usr/sbin/postconf and postmap)
/// and Posthorn's, on the same files, output compared byte for byte.</summary>
/// <remarks>Where Postfix is not installed each test writes why to the test output and returns: xunit 2 has no
/// run-time skip, and the golden tests (<see cref="PostfixGoldenTests"/>) check the same outputs without it.
/// Differences that are deliberate are listed here with a <c>DEVIATION:</c> reason; anything else fails.</remarks>
public sealed class PostfixParityTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("posthorn-parity-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private bool RealPostfixMissing()
    {
        if (ToolRun.WhyNoRealPostfix() is not { } why)
            return false;
        output.WriteLine("NOT RUN: " + why);
        return true;
    }

    private string Config(string mainCf, string masterCf)
    {
        File.WriteAllText(Path.Combine(_dir, "main.cf"), mainCf);
        File.WriteAllText(Path.Combine(_dir, "master.cf"), masterCf);
        return _dir;
    }

    public static TheoryData<string[]> PostconfArgs() => new()
    {
        new[] { "-n" }, new[] { "-nf" }, new[] { "-nh" }, new[] { "-M" }, new[] { "-Mf" }, new[] { "-P" }, new[] { "-F" },
        new[] { "-F", "submission/inet", "relay/unix/command" }, new[] { "-P", "submission/inet/syslog_name" },
        new[] { "-M", "smtp/inet", "nosuch/unix" }, new[] { "-h", "mydestination", "myorigin", "mynetworks", "inet_interfaces" },
        new[] { "-x", "mydestination", "myorigin", "mynetworks" }, new[] { "-hx", "mydestination" },
        new[] { "mydestination", "no_such_parameter" }, new[] { "-n", "mydestination", "relayhost" },
    };

    [Theory]
    [MemberData(nameof(PostconfArgs))]
    public void Postconf_matches_real_postconf_on_the_stock_configuration(string[] args)
    {
        if (RealPostfixMissing())
            return;
        string dir = Config(StockConfig.MainCf + "\n", StockConfig.MasterCf + "\n");
        var real = ToolRun.Real("postconf", null, ["-c", dir, .. args]);
        var ours = ToolRun.Postconf(HostInfo.Detect(), ["-c", dir, .. args]);
        Assert.Equal(real.Out, ours.Out);
        Assert.Equal(real.Err, ours.Err);
        Assert.Equal(real.Status, ours.Status);
    }

    [Fact]
    public void Postconf_x_matches_except_for_mail_name_and_mail_version()
    {
        if (RealPostfixMissing())
            return;
        string dir = Config(StockConfig.MainCf + "\n", StockConfig.MasterCf + "\n");
        string[] args = ["-c", dir, "-x", "smtpd_banner", "mail_name"];
        var real = ToolRun.Real("postconf", null, args);
        var ours = ToolRun.Postconf(HostInfo.Detect(), args);
        // DEVIATION: mail_name is Posthorn and mail_version Posthorn's own; everything around them is the same.
        string realName = ToolRun.Real("postconf", null, "-c", dir, "-h", "mail_name").Out.Trim();
        string realVersion = ToolRun.Real("postconf", null, "-c", dir, "-h", "mail_version").Out.Trim();
        Assert.Equal(real.Out.Replace($"{realName} ({realVersion})", $"Posthorn ({ParameterRegistry.Version})").Replace($"= {realName}\n", "= Posthorn\n"), ours.Out);
    }

    [Fact]
    public void Postconf_warnings_and_o_C_p_match_for_duplicates_unused_and_undefined_parameters()
    {
        if (RealPostfixMissing())
            return;
        string dir = Config("""
            myhostname = a.example
            myhostname = b.example
            my_unused = value	with a tab
            my_used = x
            smtpd_banner = $myhostname $my_used ${undefined_thing}
            biff = no

            """, StockConfig.MasterCf + "\n");
        string[][] cases =
        [
            ["-n"], ["-h", "my_unused", "my_used"], ["-o", "myhostname=x.y.z", "-n"], ["-o", "myhostname=x.y.z", "-hx", "mydomain"],
            ["-o", "foo_zz=1", "-n"], ["-C", "user", "-n"], ["-C", "builtin", "-n"], ["-C", "service", "-n"], ["-nC", "user,builtin"],
            ["-p", "-n"], ["-C", "bogus", "-n"],
        ];
        foreach (string[] args in cases)
        {
            var real = ToolRun.Real("postconf", null, ["-c", dir, .. args]);
            var ours = ToolRun.Postconf(HostInfo.Detect(), ["-c", dir, .. args]);
            Assert.Equal(real.Out, ours.Out);
            Assert.Equal(real.Status, ours.Status);
            // Postfix's postconf reads main.cf more than once and repeats some warnings (with a bogus "line 1"
            // for the second reading); every warning Posthorn gives must be one of Postfix's, and every
            // distinct Postfix warning must be among Posthorn's.
            var realLines = Lines(real.Err);
            var ourLines = Lines(ours.Err);
            output.WriteLine($"postfix:\n{real.Err}posthorn:\n{ours.Err}");
            Assert.Equal([], ourLines.Except(realLines));
            var missing = realLines.Except(ourLines).Where(l => !l.Contains(", line 1: overriding earlier entry:", StringComparison.Ordinal));
            Assert.Equal([], missing);
        }
    }

    [Fact]
    public void Postconf_warns_like_Postfix_when_master_cf_is_missing()
    {
        if (RealPostfixMissing())
            return;
        File.WriteAllText(Path.Combine(_dir, "main.cf"), "myhostname = mail.example.com\n");
        foreach (string[] args in new[] { new[] { "-n" }, new[] { "-M" }, new[] { "myhostname" } })
        {
            var real = ToolRun.Real("postconf", null, ["-c", _dir, .. args]);
            var ours = ToolRun.Postconf(HostInfo.Detect(), ["-c", _dir, .. args]);
            Assert.Equal((real.Status, real.Out, real.Err), (ours.Status, ours.Out, ours.Err));
        }
    }

    /// <summary>Registry defaults that differ from Postfix 3.7 on purpose, each with its reason.</summary>
    private static readonly Dictionary<string, string> DefaultDeviations = new(StringComparer.Ordinal)
    {
        ["mail_name"] = "DEVIATION: Posthorn names itself",
        ["mail_version"] = "DEVIATION: Posthorn's own version",
        ["compatibility_level"] = "DEVIATION: Posthorn behaves as Postfix at level 3.6; Postfix's compiled default is 0",
        ["append_dot_mydomain"] = "DEVIATION: the compatibility-level expression is given as its level-3.6 result",
        ["mynetworks_style"] = "DEVIATION: the compatibility-level expression is given as its level-3.6 result",
        ["relay_domains"] = "DEVIATION: the compatibility-level expression is given as its level-3.6 result",
        ["smtpd_relay_restrictions"] = "DEVIATION: the compatibility-level expression is given as its level-3.6 result",
        ["smtputf8_enable"] = "DEVIATION: the compatibility-level expression is given as its level-3.6 result",
        ["smtpd_hard_error_limit"] = "DEVIATION: no stress-adaptive ${stress?…} defaults",
        ["smtpd_junk_command_limit"] = "DEVIATION: no stress-adaptive ${stress?…} defaults",
        ["smtpd_timeout"] = "DEVIATION: no stress-adaptive ${stress?…} defaults",
        ["syslog_name"] = "DEVIATION: no multi_instance_name",
        ["alias_maps"] = "DEVIATION: Debian builds Postfix with a nis:mail.aliases fallback; Posthorn has no NIS",
        ["daemon_directory"] = "DEVIATION: the Debian package's path differs from Postfix's source default",
        ["mynetworks"] = "computed from this machine's interfaces and the mynetworks_style default",
        ["myhostname"] = "computed from this machine",
        ["mydomain"] = "computed from this machine",
        ["smtpd_forbid_bare_newline"] = "DEVIATION: Postfix 3.9's default (normalize); Debian's 3.7.11 backport defaults to no",
        ["smtpd_tls_protocols"] = "DEVIATION: Posthorn's smtpd area keeps the pre-3.6 list; owned by the smtpd registry file",
        ["smtpd_tls_mandatory_protocols"] = "DEVIATION: Posthorn's smtpd area keeps the pre-3.6 list; owned by the smtpd registry file",
    };

    [Fact]
    public void Postconf_d_gives_Postfix_defaults_for_every_parameter_both_know()
    {
        if (RealPostfixMissing())
            return;
        File.WriteAllText(Path.Combine(_dir, "main.cf"), "");
        File.WriteAllText(Path.Combine(_dir, "master.cf"), "");
        string[] names = [.. ParameterRegistry.All.Keys.Where(PostfixParameterNames.Contains).Where(n => !DefaultDeviations.ContainsKey(n)).Order(StringComparer.Ordinal)];
        var real = ToolRun.Real("postconf", null, ["-c", _dir, "-d", .. names]);
        var ours = ToolRun.Postconf(HostInfo.Detect(), ["-c", _dir, "-d", .. names]);
        Assert.Equal("", real.Err);
        var differences = Lines(real.Out).Zip(Lines(ours.Out)).Where(p => p.First != p.Second)
            .Select(p => $"postfix: {p.First}\nposthorn: {p.Second}").ToList();
        foreach (string d in differences)
            output.WriteLine(d);
        Assert.Empty(differences);
        Assert.Equal(names.Length, Lines(ours.Out).Length);
    }

    [Fact]
    public void Postmap_q_matches_real_postmap_for_hash_texthash_cidr_and_regexp()
    {
        if (RealPostfixMissing())
            return;
        // Two directories: Postfix's FILE.db is Berkeley DB, Posthorn's its own format.
        string realDir = Directory.CreateDirectory(Path.Combine(_dir, "postfix")).FullName;
        string ourDir = Directory.CreateDirectory(Path.Combine(_dir, "posthorn")).FullName;
        File.WriteAllText(Path.Combine(realDir, "main.cf"), "");
        PostfixGoldenTests.WriteTables(realDir);
        PostfixGoldenTests.WriteTables(ourDir);
        Assert.Equal(0, ToolRun.Real("postmap", null, "-c", realDir, "hash:" + Path.Combine(realDir, "virtual")).Status);
        Assert.Equal(0, ToolRun.Postmap(null, "hash:" + Path.Combine(ourDir, "virtual")).Status);
        foreach (var (type, file, key, _) in StockTables.Queries)
        {
            var real = ToolRun.Real("postmap", null, "-c", realDir, "-q", key, $"{type}:{Path.Combine(realDir, file)}");
            var ours = ToolRun.Postmap(null, "-q", key, $"{type}:{Path.Combine(ourDir, file)}");
            Assert.True((real.Status, real.Out) == (ours.Status, ours.Out),
                $"postmap -q {key} {type}:{file}: Postfix {real.Status} \"{real.Out}\", Posthorn {ours.Status} \"{ours.Out}\"");
        }
        string keys = string.Join('\n', StockTables.Queries.Select(q => q.Key).Distinct()) + "\n";
        var realStdin = ToolRun.Real("postmap", keys, "-c", realDir, "-q", "-", "hash:" + Path.Combine(realDir, "virtual"));
        var ourStdin = ToolRun.Postmap(keys, "-q", "-", "hash:" + Path.Combine(ourDir, "virtual"));
        Assert.Equal((realStdin.Status, realStdin.Out), (ourStdin.Status, ourStdin.Out));
        // -s lists in the database's own order: compare as sets.
        var realList = ToolRun.Real("postmap", null, "-c", realDir, "-s", "hash:" + Path.Combine(realDir, "virtual"));
        var ourList = ToolRun.Postmap(null, "-s", "hash:" + Path.Combine(ourDir, "virtual"));
        Assert.Equal(Lines(realList.Out).Order(StringComparer.Ordinal), Lines(ourList.Out).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Postmap_h_and_b_match_real_postmap()
    {
        if (RealPostfixMissing())
            return;
        File.WriteAllText(Path.Combine(_dir, "main.cf"), "");
        File.WriteAllText(Path.Combine(_dir, "header_checks"), StockTables.HeaderChecks);
        string table = "regexp:" + Path.Combine(_dir, "header_checks");
        foreach (string flag in new[] { "-h", "-b", "-hb" })
        {
            var real = ToolRun.Real("postmap", StockTables.Message, "-c", _dir, flag, "-q", "-", table);
            var ours = ToolRun.Postmap(StockTables.Message, flag, "-q", "-", table);
            Assert.Equal((real.Status, real.Out), (ours.Status, ours.Out));
        }
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
