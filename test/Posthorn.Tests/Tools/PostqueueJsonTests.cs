using System.Text;
using System.Text.Json;
using Posthorn.Core;
using Posthorn.Daemon.Tools;
using Posthorn.Mail.Queue;
using Posthorn.Tests.Queue;
using Xunit;

namespace Posthorn.Tests.Tools;

/// <summary><c>postqueue -j</c>: Postfix postqueue(1) "JSON OBJECT FORMAT", one object per line.</summary>
public sealed class PostqueueJsonTests
{
    [Fact]
    public async Task A_deferred_message_is_one_line_with_Postfix_members_in_order_and_its_delay_reason()
    {
        using var q = new TempQueue();
        var id = new QueueId("8C557D81C5");
        await q.EnqueueAsync(id, QueueName.Deferred, new string('x', 441) + "\n", "ana@example.com", "bruno@example.net", "carla@example.net");
        DeferLog.Append(q.Dir, id, "bruno@example.net", EnhancedStatus.Parse("4.4.1"),
            "connect to mail.example.net[192.0.2.26]:25: Connection refused");

        Assert.Equal(0, await Postqueue.RunAsync(["-j"], q.Tool(), q.Root));

        long arrival = TempQueue.Arrival.ToUnixTimeSeconds();
        Assert.Equal(
            "{\"queue_name\": \"deferred\", \"queue_id\": \"8C557D81C5\", \"arrival_time\": " + arrival + ", \"message_size\": 442, " +
            "\"forced_expire\": false, \"sender\": \"ana@example.com\", \"recipients\": [" +
            "{\"address\": \"bruno@example.net\", \"delay_reason\": \"connect to mail.example.net[192.0.2.26]:25: Connection refused\"}, " +
            "{\"address\": \"carla@example.net\"}]}\n",
            q.Out.ToString());
    }

    [Fact]
    public async Task Every_queue_is_listed_done_recipients_are_left_out_and_the_null_sender_is_empty()
    {
        using var q = new TempQueue();
        string active = await q.EnqueueAsync(new QueueId("4F3A2B1C3D"), QueueName.Active, "a\n", "alice@example.com", "bob@dest.com", "done@dest.com");
        QueueFile.MarkDone(active, 1);
        await q.EnqueueAsync(new QueueId("4F3A2B1C3E"), QueueName.Hold, "b\n", "", "dave@dest.com");
        await q.EnqueueAsync(new QueueId("4F3A2B1C3F"), QueueName.Maildrop, "c\n", "root", "erin");

        Assert.Equal(0, await Postqueue.RunAsync(["-j"], q.Tool(), q.Root));

        var objects = q.Out.ToString().TrimEnd('\n').Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["maildrop", "active", "hold"], objects.Select(o => o.GetProperty("queue_name").GetString()));
        Assert.Equal(["bob@dest.com"], objects[1].GetProperty("recipients").EnumerateArray().Select(r => r.GetProperty("address").GetString()));
        Assert.Equal("", objects[2].GetProperty("sender").GetString());
        Assert.Equal(JsonValueKind.Number, objects[2].GetProperty("arrival_time").ValueKind);
        Assert.Equal(JsonValueKind.False, objects[2].GetProperty("forced_expire").ValueKind);
        Assert.False(objects[1].GetProperty("recipients")[0].TryGetProperty("delay_reason", out _));
    }

    [Fact]
    public async Task An_empty_queue_prints_nothing()
    {
        using var q = new TempQueue();
        Assert.Equal(0, await Postqueue.RunAsync(["-j"], q.Tool(), q.Root));
        Assert.Equal("", q.Out.ToString());
    }

    [Theory]
    [InlineData("plain", "\"plain\"")]
    [InlineData("say \"hi\" \\ bye", "\"say \\\"hi\\\" \\\\ bye\"")]
    [InlineData("tab\there\nnl\rcr\bbs\ffeed", "\"tab\\there\\nnl\\rcr\\bbs\\ffeed\"")]
    [InlineData("bell\u0007esc\u001bdel\u007f", "\"bell\\u0007esc\\u001bdel\\u007f\"")]
    [InlineData("grüße ✉", "\"grüße ✉\"")]
    public void Strings_escape_quote_backslash_and_control_characters_as_RFC_8259_says(string value, string json)
    {
        var sb = new StringBuilder();
        PostqueueJson.AppendString(sb, value);
        Assert.Equal(json, sb.ToString());
        Assert.Equal(value, JsonSerializer.Deserialize<string>(sb.ToString()));
    }

    [Fact]
    public async Task A_reason_with_quotes_and_a_tab_stays_valid_JSON()
    {
        using var q = new TempQueue();
        var id = new QueueId("8C557D81C6");
        await q.EnqueueAsync(id, QueueName.Deferred, "x\n", "a\"b@example.com", "r@example.net");
        DeferLog.Append(q.Dir, id, "r@example.net", EnhancedStatus.Parse("4.7.1"), "host said: \"try later\" \\ bye");

        Assert.Equal(0, await Postqueue.RunAsync(["-j"], q.Tool(), q.Root));

        var o = JsonDocument.Parse(q.Out.ToString()).RootElement;
        Assert.Equal("a\"b@example.com", o.GetProperty("sender").GetString());
        Assert.Equal("host said: \"try later\" \\ bye", o.GetProperty("recipients")[0].GetProperty("delay_reason").GetString());
    }
}
