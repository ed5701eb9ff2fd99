using Posthorn.Config.Tables;
using Xunit;

namespace Posthorn.Tests.Config.Tables;

public class HashTableTests
{
    private static string Compile(string path, bool fold = true, List<string>? warnings = null)
    {
        var entries = TableSource.Parse(File.ReadAllText(path), path, fold, warnings is null ? null : warnings.Add);
        HashFile.Write(path + ".db", entries, fold, path);
        return path;
    }

    [Fact]
    public void Compiled_table_finds_every_key_and_folds_the_query_to_lower_case()
    {
        using var d = new TableDir();
        var lines = Enumerable.Range(0, 500).Select(i => $"User{i}@Example.test   value {i}");
        string src = Compile(d.Write("virtual", "# comment\n" + string.Join('\n', lines) + "\n"));
        var t = LookupTables.Open("hash:" + src, (Posthorn.Config.ConfigSnapshot?)null);
        for (int i = 0; i < 500; i += 37)
        {
            Assert.True(t.TryLookup($"USER{i}@example.TEST", out string v));
            Assert.Equal($"value {i}", v);
        }
        Assert.False(t.TryLookup("user500@example.test", out _));
        Assert.Equal(500, ((IListableLookupTable)t).Entries().Count());
    }

    [Fact]
    public void Without_folding_keys_keep_their_case()
    {
        using var d = new TableDir();
        string src = Compile(d.Write("t", "Key value\n"), fold: false);
        var t = LookupTables.Open("hash:" + src, new LookupTableOptions());
        Assert.True(t.TryLookup("Key", out _));
        Assert.False(t.TryLookup("key", out _));
    }

    [Fact]
    public void Continuation_lines_join_the_value_and_duplicates_keep_the_first_with_a_warning()
    {
        using var d = new TableDir();
        var warnings = new List<string>();
        string src = Compile(d.Write("t", "a first\n  second\nb one\nb two\nlonely\n"), warnings: warnings);
        var t = LookupTables.Open("hash:" + src, new LookupTableOptions());
        Assert.True(t.TryLookup("a", out string v));
        Assert.Equal("first  second", v);
        Assert.True(t.TryLookup("b", out v));
        Assert.Equal("one", v);
        Assert.Contains($"{src}, line 4: duplicate entry: \"b\"", warnings);
        Assert.Contains($"{src}, line 5: expected format: key whitespace value", warnings);
    }

    [Fact]
    public void A_missing_database_is_an_open_error_in_Postfix_words()
    {
        using var d = new TableDir();
        string src = d.Write("t", "a b\n");
        var e = Assert.Throws<LookupTableException>(() => LookupTables.Open("hash:" + src, new LookupTableOptions()));
        Assert.Equal($"open database {src}.db: No such file or directory", e.Message);
    }

    [Fact]
    public void A_source_newer_than_the_database_gives_the_stale_warning()
    {
        using var d = new TableDir();
        string src = Compile(d.Write("t", "a b\n"));
        File.SetLastWriteTimeUtc(src + ".db", DateTime.UtcNow.AddHours(-2));
        File.SetLastWriteTimeUtc(src, DateTime.UtcNow.AddHours(-1));
        var warnings = new List<string>();
        LookupTables.Open("hash:" + src, new LookupTableOptions { Warn = warnings.Add });
        Assert.Equal([$"database {src}.db is older than source file {src}"], warnings);
    }

    [Fact]
    public void A_recompiled_table_is_seen_at_the_next_lookup()
    {
        using var d = new TableDir();
        string src = Compile(d.Write("t", "a old\n"));
        var t = LookupTables.Open("hash:" + src, new LookupTableOptions());
        File.WriteAllText(src, "a new\n");
        Compile(src);
        Assert.True(t.TryLookup("a", out string v));
        Assert.Equal("new", v);
    }

    [Fact]
    public void A_damaged_database_fails_the_lookup_instead_of_throwing_anything_else()
    {
        using var d = new TableDir();
        string src = Compile(d.Write("t", "a b\nc d\n"));
        var t = LookupTables.Open("hash:" + src, new LookupTableOptions());
        byte[] bytes = File.ReadAllBytes(src + ".db");
        for (int i = 24; i < bytes.Length; i++)
            bytes[i] = 0xFF;
        File.WriteAllBytes(src + ".db", bytes);
        Assert.Throws<LookupTableException>(() => t.TryLookup("a", out _));
    }

    [Fact]
    public void Texthash_reads_the_source_without_postmap()
    {
        using var d = new TableDir();
        string src = d.Write("t", "Alice@Example.test OK\n");
        var t = LookupTables.Open("texthash:" + src, new LookupTableOptions());
        Assert.True(t.TryLookup("alice@example.test", out string v));
        Assert.Equal("OK", v);
    }
}
