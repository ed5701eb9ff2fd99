namespace Posthorn.Tests.Config.Parity;

/// <summary>Lookup tables of the golden corpus and what <c>postmap -q KEY TABLE</c> gives for each key with
/// Postfix 3.7.11 (null: not found, exit status 1). Produced by the real postmap on these files.</summary>
internal static class StockTables
{
    public const string Virtual = """
        # virtual(5) aliases: key, white space, value.
        Alice@Example.COM       alice
        @example.org            catchall
        postmaster              root, admin
        # A value may continue on the next line.
        team@example.com        alice,
            bob, carol
        """;

    public const string Access = """
        # Clients by network: first match wins.
        192.168.1.128/25    REJECT internal upper half
        192.168.1.0/24      OK
        10.0.0.0/8          DUNNO
        2001:db8::/32       REJECT documentation net
        !127.0.0.0/8        FILTER smtp:[127.0.0.1]:10025
        """;

    public const string Checks = """
        # Sender checks.
        /^(.*)@example\.com$/        ${1}@example.net
        /^postmaster@/               OK
        if /@sub\.example\.org$/
        /^admin@/                    REJECT admin on sub
        !/^root@/                    DUNNO not root
        endif
        /^([a-z]+)\+([a-z]+)@/       user=$1 ext=$2
        /^UPPER@/                    case-insensitive by default
        /^Exact@/i                   case-sensitive with i flag
        """;

    /// <summary>(type, file, key, value or null).</summary>
    public static readonly (string Type, string File, string Key, string? Value)[] Queries =
    [
        ("hash", "virtual", "alice@example.com", "alice"),
        ("texthash", "virtual", "alice@example.com", "alice"),
        ("hash", "virtual", "ALICE@EXAMPLE.COM", "alice"),
        ("texthash", "virtual", "ALICE@EXAMPLE.COM", "alice"),
        ("hash", "virtual", "bob@example.org", null),
        ("texthash", "virtual", "bob@example.org", null),
        ("hash", "virtual", "@example.org", "catchall"),
        ("texthash", "virtual", "@example.org", "catchall"),
        ("hash", "virtual", "postmaster", "root, admin"),
        ("texthash", "virtual", "postmaster", "root, admin"),
        ("hash", "virtual", "team@example.com", "alice,    bob, carol"),
        ("texthash", "virtual", "team@example.com", "alice,    bob, carol"),
        ("hash", "virtual", "nope", null),
        ("texthash", "virtual", "nope", null),
        ("cidr", "access.cidr", "192.168.1.200", "REJECT internal upper half"),
        ("cidr", "access.cidr", "192.168.1.7", "OK"),
        ("cidr", "access.cidr", "10.1.2.3", "DUNNO"),
        ("cidr", "access.cidr", "2001:db8::1", "REJECT documentation net"),
        ("cidr", "access.cidr", "8.8.8.8", "FILTER smtp:[127.0.0.1]:10025"),
        ("cidr", "access.cidr", "127.0.0.1", null),
        ("cidr", "access.cidr", "::1", null),
        ("cidr", "access.cidr", "nonsense", null),
        ("regexp", "checks.regexp", "joe@example.com", "joe@example.net"),
        ("regexp", "checks.regexp", "postmaster@x.org", "OK"),
        ("regexp", "checks.regexp", "admin@sub.example.org", "REJECT admin on sub"),
        ("regexp", "checks.regexp", "bob@sub.example.org", "DUNNO not root"),
        ("regexp", "checks.regexp", "root@sub.example.org", null),
        ("regexp", "checks.regexp", "ann+lists@z.org", "user=ann ext=lists"),
        ("regexp", "checks.regexp", "upper@z.org", "case-insensitive by default"),
        ("regexp", "checks.regexp", "exact@z.org", null),
        ("regexp", "checks.regexp", "Exact@z.org", "case-sensitive with i flag"),
        ("regexp", "checks.regexp", "nomatch", null),
    ];

    /// <summary>header_checks/body_checks rules and a message for <c>postmap -h/-b -q -</c>.</summary>
    public const string HeaderChecks = "/^Subject: .*viagra/ REJECT spam\n/^X-Bad:/ DISCARD\n/lottery/ REJECT body\n";

    public const string Message = "From: a@b\nSubject: buy viagra\nX-Bad: 1\n  continued\n\nhello\nyou won the lottery\n";

    /// <summary>Postfix 3.7.11's output for -h, -b and -hb.</summary>
    public static readonly (string Flag, string Output)[] MessageQueries =
    [
        ("-h", "Subject: buy viagra\tREJECT spam\nX-Bad: 1\n  continued\tDISCARD\n"),
        ("-b", "you won the lottery\tREJECT body\n"),
        ("-hb", "Subject: buy viagra\tREJECT spam\nX-Bad: 1\n  continued\tDISCARD\nyou won the lottery\tREJECT body\n"),
    ];
}
