using Posthorn.Mua;
using Posthorn.Mua.Tui;
using Xunit;

namespace Posthorn.Tests.Mua;

/// <summary>The file the user edits with $EDITOR: written with the headers, read back into a Draft.</summary>
public sealed class DraftFileTests
{
    private static readonly Draft Template = new(["a@example.test"], [], [], "Re: x", "", [], InReplyTo: "id@example.test", References: ["id@example.test"]);

    [Fact]
    public void Edited_headers_and_body_come_back_and_threading_is_kept()
    {
        string text = "To: a@example.test,\n  b@example.test\nCc: c@example.test\nBcc:\nSubject: Re: x (edited)\nX-Ignored: yes\n\nbody line\n\nsecond\n";
        Assert.True(DraftFile.TryParse(text, Template, out var d, out _));
        Assert.Equal(["a@example.test", "b@example.test"], d.To);
        Assert.Equal(["c@example.test"], d.Cc);
        Assert.Empty(d.Bcc);
        Assert.Equal("Re: x (edited)", d.Subject);
        Assert.Equal("body line\n\nsecond\n", d.Body);
        Assert.Equal("id@example.test", d.InReplyTo);
    }

    [Fact]
    public void Format_and_parse_round_trip()
    {
        var draft = Template with { Cc = ["c@example.test"], Body = "hello\n" };
        Assert.True(DraftFile.TryParse(DraftFile.Format(draft), Template, out var back, out _));
        Assert.Equal(draft.To, back.To);
        Assert.Equal(draft.Cc, back.Cc);
        Assert.Equal(draft.Subject, back.Subject);
        Assert.Equal(draft.Body, back.Body);
    }

    [Fact]
    public void A_draft_without_recipients_is_refused()
    {
        Assert.False(DraftFile.TryParse("To:\nSubject: s\n\nbody\n", Template, out _, out string problem));
        Assert.Equal("No recipients specified.", problem);
    }
}
