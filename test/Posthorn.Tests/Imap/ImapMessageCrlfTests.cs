using System.Text;
using Posthorn.Imap;
using Xunit;

namespace Posthorn.Tests.Imap;

/// <summary>ImapMessage.ToCrlf: every bare LF gets its CR (RFC 9051 §2.1), nothing else changes.</summary>
public sealed class ImapMessageCrlfTests
{
    [Theory]
    [InlineData("", "")]
    [InlineData("no line end", "no line end")]
    [InlineData("a\nb\n", "a\r\nb\r\n")]
    [InlineData("\n", "\r\n")]
    [InlineData("\n\nx", "\r\n\r\nx")]
    [InlineData("a\r\nb\nc\r\n", "a\r\nb\r\nc\r\n")]
    [InlineData("bare\rcr\n", "bare\rcr\r\n")]
    [InlineData("x\r\r\n", "x\r\r\n")]
    public void Bare_line_feeds_get_a_carriage_return(string stored, string wire)
    {
        Assert.Equal(wire, Encoding.Latin1.GetString(ImapMessage.ToCrlf(Encoding.Latin1.GetBytes(stored))));
    }

    [Fact]
    public void A_message_already_in_crlf_is_returned_as_it_is()
    {
        byte[] crlf = Encoding.ASCII.GetBytes("Subject: x\r\n\r\nbody\r\n");
        Assert.Same(crlf, ImapMessage.ToCrlf(crlf));
    }

    [Fact]
    public void Random_octets_come_out_as_a_byte_by_byte_conversion_gives_them()
    {
        var random = new Random(20261126);
        byte[] alphabet = "ab\r\n\n\nxyz\0\xff"u8.ToArray();
        for (int round = 0; round < 500; round++)
        {
            var raw = new byte[random.Next(0, 300)];
            for (int i = 0; i < raw.Length; i++) raw[i] = alphabet[random.Next(alphabet.Length)];
            var expected = new List<byte>();
            for (int i = 0; i < raw.Length; i++)
            {
                if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) expected.Add((byte)'\r');
                expected.Add(raw[i]);
            }
            Assert.Equal(expected.ToArray(), ImapMessage.ToCrlf(raw));
        }
    }
}
