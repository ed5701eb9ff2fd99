using Posthorn.Mua;
using Xunit;

namespace Posthorn.Tests.Mua;

/// <summary>posthorn mail without addresses: mailx's line commands over an mbox.</summary>
public sealed class MailReadTests : IDisposable
{
    private readonly MuaFixture _f = new();

    public void Dispose() => _f.Dispose();

    private string Original => MuaFixture.Message1 + MuaFixture.Message2 + MuaFixture.Message3;

    [Fact]
    public void Headers_summary_is_mailx_format()
    {
        Assert.Equal(0, _f.Run("h\nx\n"));
        string summary =
            $"\"{_f.Mbox}\": 3 messages 1 new 1 unread\n" +
            ">N  1 alice@example.test    Tue Nov 25 13:17    12/283   first\n" +
            "    2 carol@example.test    Wed Nov 26 09:05     8/157   Grüße\n" +
            " U  3 dave@example.test     Thu Nov 27 18:30     8/138   third\n";
        // Once on opening, once for "h".
        Assert.Equal(summary + summary[(summary.IndexOf('\n') + 1)..], _f.Out.ToString());
        Assert.Equal("", _f.Err.ToString());
    }

    [Fact]
    public void Print_shows_headers_and_decoded_body()
    {
        Assert.Equal(0, _f.Run("p 2\nx\n", "-N"));
        string o = _f.Out.ToString();
        Assert.Contains("Message 2:\nFrom carol@example.test Wed Nov 26 09:05:44 2025\n", o);
        Assert.Contains("Subject: Grüße\n", o);
        Assert.Contains("\nsecond body\n", o);
        Assert.DoesNotContain("Hello Bob", o);
    }

    [Fact]
    public void Delete_and_quit_rewrites_the_mbox_without_that_message_and_the_others_byte_identical()
    {
        Assert.Equal(0, _f.Run("d 2\nq\n"));
        Assert.Equal(MuaFixture.Message1 + MuaFixture.Message3, File.ReadAllText(_f.Mbox));
        Assert.Contains($"Held 2 messages in {_f.Mbox}", _f.Out.ToString());
        Assert.False(File.Exists(_f.Mbox + ".lock"));
        Assert.Single(Directory.GetFiles(_f.Spool));   // no temp file left
    }

    [Fact]
    public void End_of_input_is_quit_and_undelete_keeps_the_message()
    {
        Assert.Equal(0, _f.Run("d 1-3\nu 3\n"));
        Assert.Equal(MuaFixture.Message3, File.ReadAllText(_f.Mbox));
    }

    [Fact]
    public void Exit_leaves_the_mbox_unchanged()
    {
        Assert.Equal(0, _f.Run("d *\nx\n"));
        Assert.Equal(Original, File.ReadAllText(_f.Mbox));
    }

    [Fact]
    public void Mail_delivered_while_the_mailbox_was_open_is_kept()
    {
        var ctx = _f.Context("");
        var box = Mailbox.Open(_f.Mbox, ctx);
        File.AppendAllText(_f.Mbox, MuaFixture.Message2.Replace("second", "late"));
        box.Entries[0].Deleted = true;
        Assert.Equal(2, box.Commit());
        Assert.Equal(MuaFixture.Message2 + MuaFixture.Message3 + MuaFixture.Message2.Replace("second", "late"), File.ReadAllText(_f.Mbox));
    }

    [Fact]
    public void A_mailbox_rewritten_by_someone_else_is_not_touched()
    {
        var box = Mailbox.Open(_f.Mbox, _f.Context(""));
        File.WriteAllText(_f.Mbox, MuaFixture.Message3 + MuaFixture.Message1 + MuaFixture.Message2);
        box.Entries[0].Deleted = true;
        Assert.Throws<IOException>(() => box.Commit());
        Assert.Equal(MuaFixture.Message3 + MuaFixture.Message1 + MuaFixture.Message2, File.ReadAllText(_f.Mbox));
    }

    [Fact]
    public void Save_appends_in_mbox_format_and_keeps_the_message()
    {
        string saved = Path.Combine(_f.Dir, "saved");
        File.WriteAllText(saved, MuaFixture.Message3);
        Assert.Equal(0, _f.Run($"s 1 {saved}\ns 2 {saved}\nq\n"));
        Assert.Equal(MuaFixture.Message3 + MuaFixture.Message1 + MuaFixture.Message2, File.ReadAllText(saved));
        Assert.Equal(Original, File.ReadAllText(_f.Mbox));
        Assert.Contains($"\"{saved}\" [Appended] 12/283", _f.Out.ToString());
    }

    [Fact]
    public void Reply_to_all_goes_to_sender_and_other_recipients_with_threading_headers()
    {
        Assert.Equal(0, _f.Run("r 1\nThanks.\n.\nx\n"));
        var (sender, rcpts, message) = Assert.Single(_f.Sent);
        Assert.Null(sender);
        Assert.Equal(["alice@example.test", "carol@example.test"], rcpts);
        Assert.Contains("Subject: Re: first\n", message);
        Assert.Contains("In-Reply-To: <one@example.test>\n", message);
        Assert.Contains("\nThanks.\n", message);
        Assert.DoesNotContain("bob@example.test", message.Split("\n\n")[0].Split('\n').Where(l => l.StartsWith("To:") || l.StartsWith("Cc:")).Aggregate("", string.Concat));
    }

    [Fact]
    public void Reply_to_sender_only_and_mail_command()
    {
        Assert.Equal(0, _f.Run("R 1\nok\n.\nm zoe@example.test\nhello zoe\nbody\n.\nx\n"));
        Assert.Equal(2, _f.Sent.Count);
        Assert.Equal(["alice@example.test"], _f.Sent[0].Recipients);
        Assert.Equal(["zoe@example.test"], _f.Sent[1].Recipients);
        Assert.Contains("Subject: hello zoe\n", _f.Sent[1].Message);
        Assert.Contains("\nbody\n", _f.Sent[1].Message);
    }

    [Fact]
    public void Next_walks_the_messages_and_reports_the_end()
    {
        Assert.Equal(0, _f.Run("n\nn\nn\nn\nx\n", "-N"));
        string o = _f.Out.ToString();
        Assert.True(o.IndexOf("Message 1:") < o.IndexOf("Message 2:") && o.IndexOf("Message 2:") < o.IndexOf("Message 3:"), o);
        Assert.EndsWith("At EOF\n", o);
    }

    [Fact]
    public void No_mailbox_and_bad_message_numbers_are_reported()
    {
        File.Delete(_f.Mbox);
        Assert.Equal(1, _f.Run(""));
        Assert.Contains("No mail for bob", _f.Err.ToString());
        File.WriteAllText(_f.Mbox, MuaFixture.Message1);
        Assert.Equal(0, _f.Run("p 7\nfoo\nx\n"));
        Assert.Contains("7: Invalid message number", _f.Err.ToString());
        Assert.Contains("Unknown command: \"foo\"", _f.Err.ToString());
    }

    [Fact]
    public void Dash_u_is_refused_to_an_ordinary_user()
    {
        Assert.Equal(1, _f.Run("", "-u", "alice"));
        Assert.Contains("root only", _f.Err.ToString());
    }
}

/// <summary>Bad input and the root-only -u flag.</summary>
public sealed class MailReadEdgeTests : IDisposable
{
    private readonly MuaFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void A_file_that_is_not_an_mbox_is_reported_and_left_alone()
    {
        string junk = Path.Combine(_f.Dir, "junk");
        File.WriteAllText(junk, "Subject: no From_ line\n\nbody\n");
        Assert.Equal(1, _f.Run("d 1\nq\n", "-f", junk));
        Assert.Contains($"mail: {junk}:", _f.Err.ToString());
        Assert.Equal("Subject: no From_ line\n\nbody\n", File.ReadAllText(junk));
    }

    [Fact]
    public void Root_may_open_another_users_mailbox_with_dash_u()
    {
        var ctx = _f.Context("h\nx\n") with { IsRoot = true, UserName = "root" };
        Assert.Equal(0, MailProgram.Run(["-u", "bob"], ctx));
        Assert.Contains($"\"{_f.Mbox}\": 3 messages", _f.Out.ToString());
    }
}
