using System.Buffers.Binary;
using System.Text;
using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Queue;

/// <summary>Regression for a crash found with the fuzz/run.sh queue-file target: an arrival-time record ('T') at the
/// old upper bound (DateTimeOffset.MaxValue ticks / 10 microseconds) passed the check, and adding it to the Unix
/// epoch threw ArgumentOutOfRangeException out of <see cref="QueueFile.Read"/>, whose contract is
/// <see cref="QueueFileCorruptException"/> for a file that does not follow the format.</summary>
public sealed class QueueFileArrivalOverflowTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-qf-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static byte[] Record(char type, string value)
    {
        byte[] v = Encoding.UTF8.GetBytes(value);
        var r = new byte[5 + v.Length];
        r[0] = (byte)type;
        BinaryPrimitives.WriteInt32BigEndian(r.AsSpan(1), v.Length);
        v.CopyTo(r, 5);
        return r;
    }

    private string QueueFileWithArrival(string micros)
    {
        byte[] content = "Subject: x\n\nbody\n"u8.ToArray();
        byte[] envelope = [.. Record('T', micros), .. Record('S', "a@example.test"), .. Record('R', "-b@example.test"), .. Record('E', "3")];
        string path = Path.Combine(_dir.FullName, "qf-" + micros);
        File.WriteAllBytes(path, [.. QueueFileFormat.EncodeHeader(content.Length, envelope.Length), .. content, .. envelope]);
        return path;
    }

    [Theory]
    [InlineData("315537897599999999")]   // DateTimeOffset.MaxValue.UtcTicks / 10: the input the fuzzer's target threw on
    [InlineData("253402300800000000")]   // year 10000 exactly
    public void ArrivalBeyondDateTimeOffsetRange_IsCorrupt(string micros)
    {
        var e = Assert.Throws<QueueFileCorruptException>(() => QueueFile.Read(QueueFileWithArrival(micros)));
        Assert.Contains("bad arrival time record", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LatestRepresentableArrival_ReadsBack()
    {
        long micros = (DateTimeOffset.MaxValue.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
        var m = QueueFile.Read(QueueFileWithArrival(micros.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(DateTimeOffset.UnixEpoch.AddTicks(micros * 10), m.Envelope.ArrivalTime);
    }
}
