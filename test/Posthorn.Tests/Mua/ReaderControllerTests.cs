using Posthorn.Mua;
using Posthorn.Mua.Tui;
using Xunit;

namespace Posthorn.Tests.Mua;

/// <summary>The full-screen reader's model: what each mutt key does to the selection, the flags,
/// the pager and the mailbox on disk, checked through the lines the view would draw.</summary>
public sealed class ReaderControllerTests : IDisposable
{
    private readonly MuaFixture _f = new();

    public void Dispose() => _f.Dispose();

    private ReaderController Open(string? editor = null)
    {
        var ctx = _f.Context("") with { GetEnv = name => name == "EDITOR" ? editor : null };
        return new ReaderController(Mailbox.Open(_f.Mbox, ctx), ctx);
    }

    private static string Screen(ReaderController c) => string.Join("\n", c.Render(100, 20).Lines);

    private static ReaderAction Keys(ReaderController c, params ReaderKey[] keys)
    {
        var last = ReaderAction.Continue;
        foreach (var k in keys) last = c.Handle(k);
        return last;
    }

    private static ReaderAction Type(ReaderController c, string text)
    {
        foreach (char ch in text) c.Handle(ch);
        return c.Handle(ReaderKey.Named(ReaderKeyName.Enter));
    }

    [Fact]
    public void Index_lists_number_flags_date_sender_size_and_subject_with_the_first_new_message_selected()
    {
        var c = Open();
        var screen = c.Render(100, 20);
        Assert.Equal(20, screen.Lines.Count);
        Assert.All(screen.Lines, l => Assert.Equal(100, l.Length));
        Assert.Equal("->   1 N  Tue Nov 25 13:17  alice@example.test   (  283) first", screen.Lines[1].TrimEnd());
        Assert.Equal("     2    Wed Nov 26 09:05  carol@example.test   (  157) Grüße", screen.Lines[2].TrimEnd());
        Assert.Equal("     3 O  Thu Nov 27 18:30  dave@example.test    (  138) third", screen.Lines[3].TrimEnd());
        Assert.Equal(1, screen.HighlightRow);
        Assert.Contains($"---Posthorn: {_f.Mbox} [Msgs:3 New:1 Old:1]---", screen.Lines[18]);
    }

    [Fact]
    public void J_and_k_move_over_undeleted_messages_and_arrows_over_all()
    {
        var c = Open();
        Keys(c, 'd');                       // 1 deleted, cursor resolves to 2
        Assert.Equal(1, c.Selected);
        Keys(c, 'k');                       // nothing undeleted above
        Assert.Equal(1, c.Selected);
        Assert.Equal("You are on the first message.", c.Message);
        Keys(c, ReaderKey.Named(ReaderKeyName.Up));
        Assert.Equal(0, c.Selected);
        Keys(c, 'j', 'j', 'j');
        Assert.Equal(2, c.Selected);
        Assert.Equal("You are on the last message.", c.Message);
    }

    [Fact]
    public void Enter_opens_the_pager_with_decoded_headers_and_body_and_marks_the_message_read()
    {
        var c = Open();
        Keys(c, ReaderKey.Named(ReaderKeyName.Down), ReaderKey.Named(ReaderKeyName.Enter));
        Assert.True(c.InPager);
        string screen = Screen(c);
        Assert.Contains("Subject: Grüße", screen);
        Assert.Contains("second body", screen);
        Assert.Contains("2/3: carol@example.test", screen);
        Keys(c, 'q');
        Assert.False(c.InPager);
        Assert.Equal(MessageState.Read, c.Box.Entries[1].State);
    }

    [Fact]
    public void In_the_pager_j_shows_the_next_message_and_space_at_the_end_goes_on()
    {
        var c = Open();
        Keys(c, ReaderKey.Named(ReaderKeyName.Enter));
        Assert.Contains("Hello Bob.", Screen(c));
        Keys(c, 'j');
        Assert.Contains("second body", Screen(c));
        Keys(c, ' ');
        Assert.Contains("third body", Screen(c));
        Assert.Equal(MessageState.Read, c.Box.Entries[2].State);
    }

    [Fact]
    public void D_marks_and_u_clears_the_deleted_flag_without_touching_the_file()
    {
        var c = Open();
        Keys(c, 'd');
        Assert.Contains("     1 D  Tue Nov 25", Screen(c));
        Assert.Contains("Del:1", Screen(c));
        Keys(c, ReaderKey.Named(ReaderKeyName.Up), 'u');
        Assert.False(c.Box.Entries[0].Deleted);
        Assert.Equal(MuaFixture.Message1 + MuaFixture.Message2 + MuaFixture.Message3, File.ReadAllText(_f.Mbox));
    }

    [Fact]
    public void Dollar_commits_the_deletions_and_the_index_is_read_again_keeping_what_was_seen()
    {
        var c = Open();
        Keys(c, ReaderKey.Named(ReaderKeyName.Enter), 'q', 'j', 'd', '$');
        Assert.Equal(MuaFixture.Message1 + MuaFixture.Message3, File.ReadAllText(_f.Mbox));
        Assert.Equal("1 message deleted.", c.Message);
        Assert.Equal(["first", "third"], c.Box.Entries.Select(e => e.Subject));
        Assert.Equal(MessageState.Read, c.Box.Entries[0].State);
        Assert.Equal(1, c.Selected);
        Assert.Equal(ReaderActionKind.Continue, Keys(c, '$').Kind);
        Assert.Equal("Mailbox is unchanged.", c.Message);
    }

    [Fact]
    public void Dollar_keeps_mail_that_arrived_while_the_mailbox_was_open()
    {
        var c = Open();
        const string late = "From eve@example.test Fri Nov 28 10:00:00 2025\nFrom: eve@example.test\nSubject: late\n\nlate body\n\n";
        File.AppendAllText(_f.Mbox, late);
        Keys(c, 'd', '$');
        Assert.Equal(MuaFixture.Message2 + MuaFixture.Message3 + late, File.ReadAllText(_f.Mbox));
        Assert.Equal(["Grüße", "third", "late"], c.Box.Entries.Select(e => e.Subject));
        Assert.Equal(MessageState.New, c.Box.Entries[2].State);
    }

    [Fact]
    public void Q_commits_and_quits_and_x_exits_without_changes()
    {
        var c = Open();
        Assert.Equal(new ReaderAction(ReaderActionKind.Quit, 0), Keys(c, 'd', 'x'));
        Assert.Equal(MuaFixture.Message1 + MuaFixture.Message2 + MuaFixture.Message3, File.ReadAllText(_f.Mbox));

        c = Open();
        Assert.Equal(new ReaderAction(ReaderActionKind.Quit, 0), Keys(c, 'd', 'q'));
        Assert.Equal(MuaFixture.Message2 + MuaFixture.Message3, File.ReadAllText(_f.Mbox));
    }

    [Fact]
    public void A_mailbox_rewritten_by_someone_else_is_not_overwritten_and_q_stays_open()
    {
        var c = Open();
        File.WriteAllText(_f.Mbox, MuaFixture.Message3);   // another reader expunged 1 and 2 meanwhile
        Assert.Equal(ReaderActionKind.Continue, Keys(c, 'd', 'q').Kind);
        Assert.Contains("mailbox left unchanged", c.Message);
        Assert.Contains("Press x", c.Message);
        Assert.Equal(MuaFixture.Message3, File.ReadAllText(_f.Mbox));
    }

    [Fact]
    public void S_asks_for_a_file_and_appends_the_message_in_mbox_form()
    {
        var c = Open();
        string saved = Path.Combine(_f.Dir, "saved");
        Keys(c, 's');
        Assert.Equal("Save to mailbox: ", c.PromptLine);
        Keys(c, 'x', 'y');
        Assert.Equal("Save to mailbox: xy", c.PromptLine);
        Assert.Equal("Save to mailbox: xy", c.Render(100, 20).Lines[19].TrimEnd());
        Keys(c, ReaderKey.Named(ReaderKeyName.Backspace), ReaderKey.Named(ReaderKeyName.Backspace));
        Assert.Equal("Save to mailbox: ", c.PromptLine);
        Type(c, saved);
        Assert.Null(c.PromptLine);
        Assert.Equal($"Saved to {saved}.", c.Message);
        Assert.Equal(MuaFixture.Message1, File.ReadAllText(saved));
        Assert.False(c.Box.Entries[0].Deleted);
    }

    [Fact]
    public void Escape_cancels_a_prompt()
    {
        var c = Open();
        Keys(c, 's', 'a', ReaderKey.Named(ReaderKeyName.Escape));
        Assert.Null(c.PromptLine);
        Assert.Equal(ReaderActionKind.Quit, Keys(c, 'x').Kind);
    }

    [Fact]
    public void R_writes_a_quoted_draft_for_the_editor_and_the_edited_reply_is_sent_and_flagged()
    {
        var c = Open(editor: "my-editor");
        Assert.Equal("my-editor", c.Editor);
        var edit = Keys(c, 'r');
        Assert.Equal(ReaderActionKind.Edit, edit.Kind);
        string draft = File.ReadAllText(edit.EditPath!);
        Assert.StartsWith("To: alice@example.test\nCc: \nBcc: \nSubject: Re: first\n\n", draft);
        Assert.Contains("wrote:\n> Hello Bob.\n> >From the start of a line\n", draft);

        File.WriteAllText(edit.EditPath!, draft.Insert(draft.IndexOf("\n\n", StringComparison.Ordinal) + 2, "Thanks, Alice.\n"));   // what the editor did
        Assert.Equal(ReaderActionKind.Continue, c.EditorFinished(0).Kind);
        Assert.False(File.Exists(edit.EditPath));
        Assert.Equal("Send message? ([y]/n/a:attach file): ", c.PromptLine);
        Type(c, "y");
        Assert.Equal("Mail sent.", c.Message);
        var (sender, rcpts, message) = Assert.Single(_f.Sent);
        Assert.Null(sender);
        Assert.Equal(["alice@example.test"], rcpts);
        Assert.Contains("Subject: Re: first", message);
        Assert.Contains("In-Reply-To: <one@example.test>", message);
        Assert.Contains("Thanks, Alice.", message);
        Assert.True(c.Box.Entries[0].Replied);
        Assert.Contains("   1 Nr Tue Nov 25", Screen(c));
    }

    [Fact]
    public void G_replies_to_all_recipients_but_the_user()
    {
        var c = Open();
        string draft = File.ReadAllText(Keys(c, 'g').EditPath!);
        Assert.StartsWith("To: alice@example.test\nCc: carol@example.test\n", draft);
        c.EditorFinished(0);
    }

    [Fact]
    public void An_unmodified_draft_or_a_failed_editor_sends_nothing()
    {
        var c = Open();
        Keys(c, 'r');
        c.EditorFinished(0);
        Assert.Equal("Aborted unmodified message.", c.Message);
        var edit = Keys(c, 'r');
        File.AppendAllText(edit.EditPath!, "more\n");
        c.EditorFinished(1);
        Assert.Equal("Editor exited with status 1; message not sent.", c.Message);
        Assert.Empty(_f.Sent);
    }

    [Fact]
    public void M_asks_for_recipient_and_subject_then_edits_and_n_does_not_send()
    {
        var c = Open();
        Keys(c, 'm');
        Assert.Equal("To: ", c.PromptLine);
        Type(c, "dave@example.test, eve@example.test");
        Assert.Equal("Subject: ", c.PromptLine);
        var edit = Type(c, "plans");
        Assert.Equal(ReaderActionKind.Edit, edit.Kind);
        Assert.Equal("To: dave@example.test, eve@example.test\nCc: \nBcc: \nSubject: plans\n\n", File.ReadAllText(edit.EditPath!));
        File.AppendAllText(edit.EditPath!, "see you\n");
        c.EditorFinished(0);
        Type(c, "n");
        Assert.Equal("Message not sent.", c.Message);
        Assert.Empty(_f.Sent);
    }

    [Fact]
    public void An_empty_mailbox_shows_an_empty_index_and_keys_do_not_fail()
    {
        File.WriteAllText(_f.Mbox, "");
        var c = Open();
        foreach (var k in new ReaderKey[] { 'j', 'k', ReaderKey.Named(ReaderKeyName.Enter), 'd', 'u', 'r', 's', '$' }) c.Handle(k);
        Assert.Contains("[Msgs:0]", Screen(c));
        Assert.Equal(ReaderActionKind.Quit, Keys(c, ReaderKey.Named(ReaderKeyName.Escape), 'q').Kind);
    }

    [Fact]
    public void The_pager_scrolls_and_wraps_long_lines_with_a_plus()
    {
        string longBody = string.Join("\n", Enumerable.Range(1, 60).Select(i => $"line {i}")) + "\n" + new string('w', 150) + "\n";
        File.WriteAllText(_f.Mbox, "From a@example.test Tue Nov 25 13:17:08 2025\nSubject: long\n\n" + longBody + "\n");
        var c = Open();
        Keys(c, ReaderKey.Named(ReaderKeyName.Enter));
        var lines = c.Render(100, 20).Lines;
        Assert.Equal("Subject: long", lines[1].TrimEnd());
        Assert.Contains("(", lines[18]);
        Keys(c, ' ');
        Assert.StartsWith("line 16 ", c.Render(100, 20).Lines[1]);
        Keys(c, ReaderKey.Named(ReaderKeyName.Enter), '-');
        Assert.StartsWith("line 1 ", c.Render(100, 20).Lines[2]);
        Keys(c, ' ', ' ', ' ', ' ');
        var end = c.Render(100, 20).Lines;
        Assert.Contains(end, l => l == new string('w', 100));
        Assert.Contains(end, l => l.TrimEnd() == "+" + new string('w', 50));
    }

    [Fact]
    public void A_change_reported_from_outside_reads_the_index_again_and_says_new_mail()
    {
        var c = Open();
        Keys(c, 'j');
        File.AppendAllText(_f.Mbox, "From eve@example.test Fri Nov 28 10:00:00 2025\nFrom: eve@example.test\nSubject: late\n\nlate body\n\n");
        c.MailboxChanged();
        Assert.Equal(4, c.Box.Entries.Count);
        Assert.Equal(1, c.Selected);
        Assert.Equal("New mail in this mailbox.", c.Message);
        Assert.Contains("late", Screen(c));
    }
}
