using Microsoft.Data.Sqlite;
using Posthorn.Imap;
using Xunit;

namespace Posthorn.Tests.Imap;

/// <summary>The record a message's cached values are kept in (<see cref="ImapMessageCache.Stored"/>), and the pipeline
/// that fills the records of many messages at once (read one chunk while the one before is parsed).</summary>
public sealed class ImapCachePipelineTests
{
    [Fact]
    public void A_record_gives_back_the_values_asked_for_in_the_order_asked()
    {
        byte[][] values = [[1, 2], [], [3], "header"u8.ToArray(), [4, 5, 6]];
        var record = ImapMessageCache.Pack(values);
        var row = ImapMessageCache.Unpack(record, [3, 0, 4])!;
        Assert.Equal(new[] { values[3], values[0], values[4] }, row.Select(v => v.ToArray()));
        Assert.True(ImapMessageCache.Unpack(record, [1])![0].IsEmpty);
    }

    [Theory]
    [InlineData(0)]      // empty
    [InlineData(3)]      // cut inside the first length
    [InlineData(9)]      // cut inside a value
    [InlineData(-1)]     // one octet too many
    public void A_record_of_another_form_is_no_record(int cut)
    {
        var record = ImapMessageCache.Pack([[1, 2], [], [3], [7], [4, 5, 6]]);
        byte[] damaged = cut >= 0 ? record[..cut] : [.. record, 0];
        Assert.Null(ImapMessageCache.Unpack(damaged, [0]));
        var negative = (byte[])record.Clone();
        negative[3] = 0x80;   // the first length, little-endian: now negative
        Assert.Null(ImapMessageCache.Unpack(negative, [0]));
    }

    [Fact]
    public async Task Many_messages_get_their_own_envelopes_across_chunks_and_a_damaged_record_is_parsed_again()
    {
        await using var server = new ImapTestServer();
        const int count = 150;   // more than two parse chunks, the last one short
        for (int i = 1; i <= count; i++) server.Deliver($"message {i}");
        using var c = await RawImapClient.LoginAsync(server);
        Assert.Contains(" OK", await c.SendAsync("SELECT INBOX"));
        string first = await c.SendAsync("FETCH 1:* (ENVELOPE)");
        AssertEnvelopes(first);

        // Every record damaged (cut to one octet) in the index itself: the next FETCH parses the messages again
        // instead of answering from the damaged records.
        await using (var db = new SqliteConnection($"Data Source={Path.Combine(server.Maildir, "posthorn-index.sqlite")};Pooling=False"))
        {
            await db.OpenAsync();
            using var cmd = db.CreateCommand();
            cmd.CommandText = "UPDATE cache SET value = x'00' WHERE field = $f";
            cmd.Parameters.AddWithValue("$f", ImapMessageCache.Stored);
            Assert.Equal(count, await cmd.ExecuteNonQueryAsync());
        }
        using var again = await RawImapClient.LoginAsync(server);
        Assert.Contains(" OK", await again.SendAsync("SELECT INBOX"));
        Assert.Equal(first, await again.SendAsync("FETCH 1:* (ENVELOPE)"));
    }

    private static void AssertEnvelopes(string response)
    {
        var lines = response.Split('\n').Where(l => l.StartsWith("* ", StringComparison.Ordinal)).ToList();
        Assert.Equal(150, lines.Count);
        for (int i = 0; i < lines.Count; i++)
        {
            Assert.StartsWith($"* {i + 1} FETCH (ENVELOPE (", lines[i]);
            Assert.Contains($"\"message {i + 1}\"", lines[i]);
        }
    }
}
