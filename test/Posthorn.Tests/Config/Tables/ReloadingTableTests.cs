using Posthorn.Config.Tables;
using Xunit;

namespace Posthorn.Tests.Config.Tables;

/// <summary>A running daemon follows an edited texthash/cidr/regexp table without a reload (Postfix dict_changed).</summary>
public sealed class ReloadingTableTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("posthorn-reload-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text, int secondsLater = 0)
    {
        string path = Path.Combine(_dir, name);
        DateTime before = File.Exists(path) ? File.GetLastWriteTimeUtc(path) : DateTime.UtcNow;
        File.WriteAllText(path, text);
        // The change is made visible by its time stamp, not by waiting for the clock to move.
        if (secondsLater > 0)
            File.SetLastWriteTimeUtc(path, before.AddSeconds(secondsLater));
        return path;
    }

    [Theory]
    [InlineData("texthash", "access", "192.0.2.1 OK\n", "192.0.2.1 REJECT\n", "192.0.2.1")]
    [InlineData("cidr", "access.cidr", "192.0.2.0/24 OK\n", "192.0.2.0/24 REJECT\n", "192.0.2.7")]
    [InlineData("regexp", "checks.regexp", "/^a@/ OK\n", "/^a@/ REJECT\n", "a@example.com")]
    public void An_edited_table_file_is_read_again_at_the_next_lookup(string type, string file, string before, string after, string key)
    {
        string path = Write(file, before);
        var table = LookupTables.Open($"{type}:{path}", new LookupTableOptions());
        Assert.True(table.TryLookup(key, out string v));
        Assert.Equal("OK", v);
        Write(file, after, secondsLater: 2);
        Assert.True(table.TryLookup(key, out v));
        Assert.Equal("REJECT", v);
    }

    [Fact]
    public void A_removed_table_file_keeps_the_last_contents_with_a_warning()
    {
        string path = Write("access.cidr", "192.0.2.0/24 OK\n");
        var warnings = new List<string>();
        var table = LookupTables.Open($"cidr:{path}", new LookupTableOptions { Warn = warnings.Add });
        File.Delete(path);
        Assert.True(table.TryLookup("192.0.2.9", out string v));
        Assert.Equal("OK", v);
        Assert.Equal($"cidr:{path}: open {path}: No such file or directory; keeping the table as last read", Assert.Single(warnings));
    }
}
