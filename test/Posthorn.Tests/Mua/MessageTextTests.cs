using System.Text;
using MimeKit;
using Posthorn.Mua.Tui;
using Xunit;

namespace Posthorn.Tests.Mua;

/// <summary>The pager's MIME decoding: text/plain preferred, transfer encodings and charsets decoded,
/// attachments listed, and nothing that could drive the terminal let through.</summary>
public sealed class MessageTextTests
{
    private static List<string> Lines(string raw) =>
        MessageText.Lines(MimeMessage.Load(new MemoryStream(Encoding.Latin1.GetBytes(raw.Replace("\n", "\r\n")))));

    [Fact]
    public void Base64_and_quoted_printable_bodies_are_decoded_in_their_charset()
    {
        string b64 = Convert.ToBase64String(Encoding.UTF8.GetBytes("Grüße aus Köln\n"));
        var lines = Lines($"From: a@example.test\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n{b64}\n");
        Assert.Equal(["From: a@example.test", "Subject: Grüße", "", "Grüße aus Köln"], lines);

        lines = Lines("Subject: qp\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nSch=F6ne Gr=FC=DFe, a soft=\n break\n");
        Assert.Equal(["Subject: qp", "", "Schöne Grüße, a soft break"], lines);
    }

    [Fact]
    public void Multipart_alternative_shows_the_plain_part_and_attachments_are_listed_by_name_type_and_size()
    {
        string raw = """
            Subject: mixed
            MIME-Version: 1.0
            Content-Type: multipart/mixed; boundary="outer"

            --outer
            Content-Type: multipart/alternative; boundary="alt"

            --alt
            Content-Type: text/plain; charset=us-ascii

            plain text wins
            --alt
            Content-Type: text/html; charset=us-ascii

            <p>html loses</p>
            --alt--
            --outer
            Content-Type: application/pdf; name="report.pdf"
            Content-Disposition: attachment; filename="report.pdf"
            Content-Transfer-Encoding: base64

            AAAAAAAAAAAAAAAAAAAA
            --outer--
            """;
        var lines = Lines(raw);
        Assert.Contains("plain text wins", lines);
        Assert.DoesNotContain(lines, l => l.Contains("html loses"));
        Assert.Contains("[-- Attachment #1: report.pdf (application/pdf, 15) --]", lines);
    }

    [Fact]
    public void Html_only_is_shown_without_markup()
    {
        var lines = Lines("Subject: h\nContent-Type: text/html; charset=utf-8\n\n<html><body><p>Hello &amp; welcome</p></body></html>\n");
        Assert.Contains("[-- text/html, shown without markup --]", lines);
        Assert.Contains("Hello & welcome", lines);
    }

    [Fact]
    public void An_unknown_charset_is_named_and_the_text_still_shown()
    {
        var lines = Lines("Subject: c\nContent-Type: text/plain; charset=x-no-such-charset\n\nplain words\n");
        Assert.Contains("[-- unknown charset \"x-no-such-charset\", shown as utf-8 --]", lines);
        Assert.Contains("plain words", lines);
    }

    [Fact]
    public void Escape_sequences_and_control_characters_never_reach_the_screen()
    {
        var lines = Lines("Subject: evil\u001b]0;title\u0007\n\nbell\u0007 esc\u001b[2J tab\tend\n");
        Assert.All(lines, l => Assert.DoesNotContain(l, c => c < ' ' || c is >= '\u007f' and <= '\u009f'));
        Assert.Contains("bell? esc?[2J tab       end", lines);   // the tab stops at column 24
    }

    [Fact]
    public void A_forwarded_message_is_shown_inline_after_its_attachment_line()
    {
        var lines = Lines("Subject: fwd\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee below\n--b\nContent-Type: message/rfc822\n\nSubject: inner\nFrom: x@example.test\n\ninner body\n--b--\n");
        Assert.Contains("[-- Attachment #1: message/rfc822, inner --]", lines);
        Assert.Contains("inner body", lines);
    }

    [Theory]
    [InlineData(0, "0")]
    [InlineData(999, "999")]
    [InlineData(1200, "1.2K")]
    [InlineData(20_000, "19K")]
    [InlineData(52_428_800, "50M")]
    [InlineData(3_565_158, "3.4M")]
    public void Sizes_are_shown_as_mutt_does(long bytes, string shown) => Assert.Equal(shown, MessageText.SizeText(bytes));
}
