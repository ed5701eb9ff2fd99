using System.Text;
using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

/// <summary>MailCopy's copy of queued content against a plain statement of Postfix mail_copy(3)'s rules, over
/// random content read in pieces of every size (a CR, a held "From " or a dot split across two reads) and over
/// content larger than the copy's buffers.</summary>
public class MailCopyTests
{
    [Theory]
    [InlineData(false, false, false)]
    [InlineData(true, false, true)]
    [InlineData(false, true, false)]
    [InlineData(true, true, true)]
    public void Random_content_is_copied_as_the_rules_say(bool quoteFrom, bool dot, bool blank)
    {
        var random = new Random(4155 + (quoteFrom ? 1 : 0) + (dot ? 2 : 0) + (blank ? 4 : 0));
        string[] pieces = ["From ", "Fro", "F", ".", "..", "\r", "\n", "\r\n", "x", "text", " From ", ">From "];
        for (int round = 0; round < 400; round++)
        {
            var sb = new StringBuilder();
            int count = random.Next(0, 30);
            for (int i = 0; i < count; i++) sb.Append(pieces[random.Next(pieces.Length)]);
            byte[] content = Encoding.Latin1.GetBytes(sb.ToString());
            byte[] expected = Expected("P: x\n", content, quoteFrom, dot, blank);
            Assert.Equal(expected, Copied("P: x\n", content, quoteFrom, dot, blank, random.Next(1, 8)));
            Assert.Equal(expected, Copied("P: x\n", content, quoteFrom, dot, blank, int.MaxValue));
        }
    }

    [Fact]
    public void Content_larger_than_the_buffers_crosses_them_intact()
    {
        var sb = new StringBuilder();
        for (int i = 0; sb.Length < 300_000; i++)
            sb.Append(i % 7 == 0 ? "From line " : i % 5 == 0 ? ".dot\r" : "body ").Append(i).Append(i % 3 == 0 ? "\r\n" : "\n");
        byte[] content = Encoding.Latin1.GetBytes(sb.ToString());
        byte[] expected = Expected("", content, quoteFrom: true, dot: true, blank: true);
        Assert.Equal(expected, Copied("", content, quoteFrom: true, dot: true, blank: true, int.MaxValue));
        Assert.Equal(expected, Copied("", content, quoteFrom: true, dot: true, blank: true, 4093));
    }

    [Fact]
    public void Line_ends_become_LF_and_a_last_line_gets_one()
    {
        byte[] content = "a\r\nb\rc\r\r\nFrom x\r\n.d"u8.ToArray();
        Assert.Equal("H\na\nb\rc\r\n>From x\n..d\n\n",
            Encoding.Latin1.GetString(Copied("H\n", content, quoteFrom: true, dot: true, blank: true, 3)));
        Assert.Equal("a\nb\rc\r\nFrom x\n.d\n", Encoding.Latin1.GetString(Copied("", content, false, false, false, 64)));
    }

    private static byte[] Copied(string prefix, byte[] content, bool quoteFrom, bool dot, bool blank, int readSize)
    {
        using var output = new MemoryStream();
        long written = MailCopy.WriteTo(output, prefix, new PieceStream(content, readSize), quoteFrom, dot, blank);
        Assert.Equal(output.Length, written);
        return output.ToArray();
    }

    /// <summary>The rules, one line at a time: CRLF is LF (a lone CR stays); a line that starts with "." gets
    /// another (dot); one that starts with "From " gets "&gt;" (quoteFrom); the last line gets its LF when it
    /// has none; blank adds an empty line.</summary>
    private static byte[] Expected(string prefix, byte[] content, bool quoteFrom, bool dot, bool blank)
    {
        string text = Encoding.Latin1.GetString(content).Replace("\r\n", "\n");
        var sb = new StringBuilder(prefix);
        string[] lines = text.Split('\n');
        for (int j = 0; j < lines.Length; j++)
        {
            string line = lines[j];
            if (j == lines.Length - 1 && line.Length == 0) break;
            if (dot && line.StartsWith('.')) sb.Append('.');
            if (quoteFrom && line.StartsWith("From ", StringComparison.Ordinal)) sb.Append('>');
            sb.Append(line).Append('\n');
        }
        if (blank) sb.Append('\n');
        return Encoding.Latin1.GetBytes(sb.ToString());
    }

    /// <summary>Gives at most <c>readSize</c> bytes per Read, as a pipe or a short read would.</summary>
    private sealed class PieceStream(byte[] data, int readSize) : Stream
    {
        private int _at;
        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = Math.Min(Math.Min(count, readSize), data.Length - _at);
            Array.Copy(data, _at, buffer, offset, n);
            _at += n;
            return n;
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => data.Length;
        public override long Position { get => _at; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
