using Posthorn.Config.Tables;
using Xunit;

namespace Posthorn.Tests.Config.Tables;

public class PatternTableTests
{
    private static (ILookupTable Table, List<string> Warnings) Open(string type, string text)
    {
        var d = new TableDir();
        string path = d.Write("map", text);
        var warnings = new List<string>();
        var t = LookupTables.Open($"{type}:{path}", new LookupTableOptions { Warn = warnings.Add });
        d.Dispose();
        return (t, warnings.Select(w => w.Replace(path, "MAP", StringComparison.Ordinal)).ToList());
    }

    private static string? Lookup(ILookupTable t, string key) => t.TryLookup(key, out string v) ? v : null;

    [Fact]
    public void Cidr_first_match_wins_for_IPv4_and_IPv6()
    {
        var (t, w) = Open("cidr", "# trusted\n192.168.1.1 OK host\n192.168.0.0/16 REJECT\n2001:db8::/32 DUNNO\n[::1]/128 LOOP\n0.0.0.0/0 DEFAULT\n");
        Assert.Empty(w);
        Assert.Equal("OK host", Lookup(t, "192.168.1.1"));
        Assert.Equal("REJECT", Lookup(t, "192.168.7.9"));
        Assert.Equal("DUNNO", Lookup(t, "2001:db8:1::5"));
        Assert.Equal("LOOP", Lookup(t, "::1"));
        Assert.Equal("DEFAULT", Lookup(t, "10.0.0.1"));
        Assert.Equal("DEFAULT", Lookup(t, "::ffff:10.0.0.1"));
        Assert.Null(Lookup(t, "2001:db9::1"));
        Assert.Null(Lookup(t, "not-an-address"));
    }

    [Fact]
    public void Cidr_skips_a_bad_rule_with_Postfix_warning_and_keeps_the_rest()
    {
        var (t, w) = Open("cidr", "10.0.0.1/8 BAD\n10.0.0.0/8 GOOD\n");
        Assert.Equal(["cidr map MAP, line 1: non-null host address bits in \"10.0.0.1/8\", perhaps you should use \"10.0.0.0/8\" instead: skipping this rule"], w);
        Assert.Equal("GOOD", Lookup(t, "10.1.1.1"));
    }

    [Fact]
    public void Cidr_if_blocks_and_negation()
    {
        var (t, w) = Open("cidr", "if 10.0.0.0/8\n!10.1.0.0/16 NOT-TEN-ONE\n10.1.2.0/24 TEN-ONE-TWO\nendif\n0.0.0.0/0 OTHER\n");
        Assert.Empty(w);
        Assert.Equal("NOT-TEN-ONE", Lookup(t, "10.2.0.1"));
        Assert.Equal("TEN-ONE-TWO", Lookup(t, "10.1.2.3"));
        Assert.Equal("OTHER", Lookup(t, "10.1.3.3"));
        Assert.Equal("OTHER", Lookup(t, "192.0.2.1"));
    }

    [Fact]
    public void Regexp_substitutes_groups_and_is_case_insensitive_by_default()
    {
        var (t, w) = Open("regexp", "/^(.*)@old\\.example$/  $1@new.example\n/^Exact$/i   case ${0}\n/^price$/ costs $$5\n");
        Assert.Empty(w);
        Assert.Equal("Bob@new.example", Lookup(t, "Bob@OLD.example"));
        Assert.Equal("case Exact", Lookup(t, "Exact"));
        Assert.Null(Lookup(t, "exact"));
        Assert.Equal("costs $5", Lookup(t, "price"));
    }

    [Fact]
    public void Regexp_negation_if_endif_and_other_delimiters()
    {
        var (t, w) = Open("regexp", "if /@example\\.test$/\n!/^postmaster@/ REJECT not postmaster\nendif\n|a/b| SLASH\n/[[:digit:]]+/ DIGITS\n");
        Assert.Empty(w);
        Assert.Equal("REJECT not postmaster", Lookup(t, "bob@example.test"));
        Assert.Null(Lookup(t, "postmaster@example.test"));
        Assert.Equal("SLASH", Lookup(t, "a/b"));
        Assert.Equal("DIGITS", Lookup(t, "x42"));
    }

    [Fact]
    public void A_broken_regexp_names_file_and_line_and_is_skipped()
    {
        var (t, w) = Open("regexp", "/ok/ fine\n/(unclosed/ bad\n/x/ $2\n!/y/ $1\n/z/q r\n");
        Assert.Equal(4, w.Count);
        // The regerror(3) text Postfix 3.7 prints, checked against the real postmap.
        Assert.Equal("regexp map MAP, line 2: Unmatched ( or \\(", w[0]);
        Assert.Equal("regexp map MAP, line 3: out of range replacement index \"2\": skipping this rule", w[1]);
        Assert.Equal("regexp map MAP, line 4: $number found in negative match replacement text: skipping this rule", w[2]);
        Assert.Equal("regexp map MAP, line 5: unknown regexp option \"q\": skipping this rule", w[3]);
        Assert.Equal("fine", Lookup(t, "ok"));
    }

    [Theory]
    [InlineData("/[z-a]/ X", "Invalid range end")]
    [InlineData("/[abc/ X", "Unmatched [, [^, [:, [., or [=")]
    [InlineData("/*a/ X", "Invalid preceding regular expression")]
    public void Broken_regexp_patterns_give_glibc_regerror_texts_as_Postfix(string rule, string message)
    {
        var (_, w) = Open("regexp", rule + "\n");
        Assert.Equal($"regexp map MAP, line 1: {message}", Assert.Single(w));
    }

    [Fact]
    public void Pcre_is_an_alias_with_pcre_flags()
    {
        var (t, w) = Open("pcre", "/^a.b$/s DOTALL\n/^(?<user>[^@]+)@/ user $1\n");
        Assert.Empty(w);
        Assert.Equal("DOTALL", Lookup(t, "a\nb"));
        Assert.Equal("user joe", Lookup(t, "joe@x"));
    }

    [Fact]
    public void A_pathological_pattern_times_out_as_a_lookup_failure()
    {
        var d = new TableDir();
        string path = d.Write("map", "/^(a+)+$/ SLOW\n");
        var t = LookupTables.Open("regexp:" + path, new LookupTableOptions { RegexTimeout = TimeSpan.FromMilliseconds(20) });
        d.Dispose();
        Assert.Throws<LookupTableException>(() => t.TryLookup(new string('a', 5000) + "!", out _));
    }
}
