using Posthorn.Config;
using Xunit;

namespace Posthorn.Tests.Config.Parity;

/// <summary>Posthorn's postconf and postmap against the outputs Postfix 3.7.11 gave for the golden corpus
/// (<see cref="StockConfig"/>, <see cref="StockTables"/>). These run everywhere, real Postfix or not.</summary>
public sealed class PostfixGoldenTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("posthorn-golden-").FullName;

    public PostfixGoldenTests()
    {
        File.WriteAllText(Path.Combine(_dir, "main.cf"), StockConfig.MainCf + "\n");
        File.WriteAllText(Path.Combine(_dir, "master.cf"), StockConfig.MasterCf + "\n");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, string[]> PostconfCases() => new()
    {
        { StockConfig.DashN, ["-n"] },
        { StockConfig.DashNf, ["-nf"] },
        { StockConfig.DashM, ["-M"] },
        { StockConfig.DashMf, ["-Mf"] },
        { StockConfig.DashP, ["-P"] },
        { StockConfig.DashF, ["-F", "submission/inet", "relay/unix/command"] },
        { StockConfig.DashH, ["-h", "mydestination", "myorigin", "mynetworks", "inet_interfaces"] },
        { StockConfig.DashX, ["-x", "mydestination", "myorigin"] },
        { StockConfig.DashD, ["-d", "message_size_limit", "mailbox_size_limit", "myorigin", "mydestination", "smtpd_banner",
            "recipient_delimiter", "home_mailbox", "relayhost", "inet_interfaces"] },
    };

    [Theory]
    [MemberData(nameof(PostconfCases))]
    public void Postconf_output_is_byte_for_byte_what_Postfix_gives(string expected, string[] args)
    {
        var r = ToolRun.Postconf(TestConfig.Host, ["-c", _dir, .. args]);
        Assert.Equal(0, r.Status);
        Assert.Equal(expected.Replace("{DIR}", _dir) + "\n", r.Out);
        Assert.Equal("", r.Err);
    }

    [Fact]
    public void Postconf_x_expands_mail_name_to_Posthorn_the_one_documented_difference()
    {
        // DEVIATION: mail_name is "Posthorn" and mail_version Posthorn's; Postfix gives
        // "smtpd_banner = mail.example.com ESMTP Postfix (3.7.11)".
        var r = ToolRun.Postconf(TestConfig.Host, "-c", _dir, "-x", "smtpd_banner");
        Assert.Equal($"smtpd_banner = mail.example.com ESMTP Posthorn ({ParameterRegistry.Version})\n", r.Out);
    }

    [Fact]
    public void Postmap_q_answers_as_Postfix_for_hash_texthash_cidr_and_regexp()
    {
        WriteTables(_dir);
        Assert.Equal(0, ToolRun.Postmap(null, "hash:" + Path.Combine(_dir, "virtual")).Status);
        foreach (var (type, file, key, value) in StockTables.Queries)
        {
            var r = ToolRun.Postmap(null, "-q", key, $"{type}:{Path.Combine(_dir, file)}");
            Assert.True((value is null ? 1 : 0) == r.Status, $"postmap -q {key} {type}:{file}: exit {r.Status}, {r.Err}");
            Assert.Equal(value is null ? "" : value + "\n", r.Out);
        }
    }

    [Fact]
    public void Postmap_q_dash_reads_keys_from_stdin_and_prints_key_tab_value()
    {
        WriteTables(_dir);
        string table = "hash:" + Path.Combine(_dir, "virtual");
        Assert.Equal(0, ToolRun.Postmap(null, table).Status);
        var r = ToolRun.Postmap("alice@example.com\nnope\npostmaster\n", "-q", "-", table);
        Assert.Equal(0, r.Status);
        Assert.Equal("alice@example.com\talice\npostmaster\troot, admin\n", r.Out);
    }

    [Fact]
    public void Postmap_h_and_b_look_up_header_and_body_lines_of_a_message_as_Postfix()
    {
        string table = "regexp:" + Path.Combine(_dir, "header_checks");
        File.WriteAllText(Path.Combine(_dir, "header_checks"), StockTables.HeaderChecks);
        foreach (var (flag, expected) in StockTables.MessageQueries)
        {
            var r = ToolRun.Postmap(StockTables.Message, flag, "-q", "-", table);
            Assert.Equal((0, expected), (r.Status, r.Out));
        }
    }

    internal static void WriteTables(string dir)
    {
        File.WriteAllText(Path.Combine(dir, "virtual"), StockTables.Virtual + "\n");
        File.WriteAllText(Path.Combine(dir, "access.cidr"), StockTables.Access + "\n");
        File.WriteAllText(Path.Combine(dir, "checks.regexp"), StockTables.Checks + "\n");
    }
}
