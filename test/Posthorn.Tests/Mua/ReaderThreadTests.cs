using Posthorn.Mua;
using Posthorn.Mua.Tui;
using Xunit;

namespace Posthorn.Tests.Mua;

/// <summary>T in the full-screen index: threads by References/In-Reply-To, mutt's ASCII tree, and a commit
/// that keeps the mbox in its own order whatever the index shows.</summary>
public sealed class ReaderThreadTests : IDisposable
{
    private readonly MuaFixture _f = new();

    public void Dispose() => _f.Dispose();

    private static string Msg(string from, string subject, string headers) =>
        $"From {from} Tue Nov 25 13:17:08 2025\nFrom: {from}\nSubject: {subject}\n{headers}\n{subject} body\n\n";

    private static readonly string[] Messages =
    [
        Msg("alice@example.test", "plans", "Message-ID: <a@example.test>\n"),
        Msg("carol@example.test", "other topic", "Message-ID: <c@example.test>\n"),
        Msg("bob@example.test", "Re: plans", "Message-ID: <b@example.test>\nIn-Reply-To: <a@example.test>\n"),
        // Its direct parent is b (the last of References present here).
        Msg("dave@example.test", "Re: Re: plans", "Message-ID: <d@example.test>\nReferences: <a@example.test> <b@example.test>\nIn-Reply-To: <b@example.test>\n"),
        Msg("erin@example.test", "Re: plans too", "Message-ID: <e@example.test>\nReferences: <gone@example.test> <a@example.test>\n"),
        // A loop (x answers y, y answers x) must not hang or lose either message: the first link read wins.
        Msg("x@example.test", "loop x", "Message-ID: <x@example.test>\nIn-Reply-To: <y@example.test>\n"),
        Msg("y@example.test", "loop y", "Message-ID: <y@example.test>\nIn-Reply-To: <x@example.test>\n"),
    ];

    private ReaderController Open()
    {
        File.WriteAllText(_f.Mbox, string.Concat(Messages));
        var ctx = _f.Context("");
        return new ReaderController(Mailbox.Open(_f.Mbox, ctx), ctx);
    }

    private static List<string> Subjects(ReaderController c) =>
        c.Render(120, 20).Lines.Skip(1).Take(c.Box.Entries.Count).Select(l => l[(l.IndexOf(") ", StringComparison.Ordinal) + 2)..].TrimEnd()).ToList();

    [Fact]
    public void T_shows_threads_with_mutts_tree_and_T_again_the_mailbox_order()
    {
        var c = Open();
        Assert.Equal(["plans", "other topic", "Re: plans", "Re: Re: plans", "Re: plans too", "loop x", "loop y"], Subjects(c));
        c.Handle('T');
        Assert.True(c.Threaded);
        Assert.Equal(["plans", "|->Re: plans", "|  `->Re: Re: plans", "`->Re: plans too", "other topic", "loop y", "`->loop x"], Subjects(c));
        c.Handle('j');
        Assert.Equal("Re: plans", c.Current!.Subject);
        c.Handle('T');
        Assert.False(c.Threaded);
        Assert.Equal("Re: plans", c.Current!.Subject);                       // the selection follows the message
        Assert.Equal(Messages.Length, Subjects(c).Count);
    }

    [Fact]
    public void Deleting_in_the_threaded_index_commits_the_mbox_in_its_own_order()
    {
        var c = Open();
        c.Handle('T');
        c.Handle('j');                                                        // "Re: plans", third in the file
        c.Handle('d');
        Assert.Equal("Re: Re: plans", c.Current!.Subject);
        c.Handle('$');
        Assert.Equal(string.Concat(Messages.Where((_, i) => i != 2)), File.ReadAllText(_f.Mbox));
        Assert.True(c.Threaded);
        // Without b, d's References still name a: it stays in the thread.
        Assert.Equal(["plans", "|->Re: Re: plans", "`->Re: plans too", "other topic", "loop y", "`->loop x"], Subjects(c));
    }
}
