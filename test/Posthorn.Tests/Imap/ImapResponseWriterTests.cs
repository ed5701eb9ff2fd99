using System.Buffers;
using System.Globalization;
using System.Text;
using Posthorn.Imap;
using Xunit;

namespace Posthorn.Tests.Imap;

/// <summary>Numbers and dates written straight into the output buffer.</summary>
public sealed class ImapResponseWriterTests
{
    private static string Written(Action<ImapResponseWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var w = new ImapResponseWriter(buffer);
        write(w);
        Assert.Equal(buffer.WrittenCount, w.BytesWritten);
        return Encoding.ASCII.GetString(buffer.WrittenSpan);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(7L)]
    [InlineData(4294967295L)]
    [InlineData(long.MaxValue)]
    [InlineData(-12L)]
    public void Numbers_are_decimal(long n) =>
        Assert.Equal(n.ToString(CultureInfo.InvariantCulture), Written(w => w.Number(n)));

    [Theory]
    [InlineData("2026-11-24T12:00:00+00:00", "\"24-Nov-2026 12:00:00 +0000\"")]
    [InlineData("2026-01-05T03:04:09-03:30", "\"05-Jan-2026 03:04:09 -0330\"")]
    [InlineData("1999-12-31T23:59:59+05:45", "\"31-Dec-1999 23:59:59 +0545\"")]
    [InlineData("0987-06-01T00:00:00-12:00", "\"01-Jun-0987 00:00:00 -1200\"")]
    public void Dates_are_rfc_9051_date_time_in_their_own_offset(string iso, string expected)
    {
        var d = DateTimeOffset.Parse(iso, CultureInfo.InvariantCulture);
        Assert.Equal(expected, Written(w => w.DateTime(d)));
        // The form the session wrote before, through the framework's formatting.
        string before = "\"" + d.ToString("dd-MMM-yyyy HH:mm:ss ", CultureInfo.InvariantCulture)
            + d.ToString("zzz", CultureInfo.InvariantCulture).Replace(":", "", StringComparison.Ordinal) + "\"";
        Assert.Equal(before, expected);
    }
}
