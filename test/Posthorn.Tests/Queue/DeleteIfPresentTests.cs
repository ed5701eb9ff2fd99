using Posthorn.Mail.Queue;
using Xunit;

namespace Posthorn.Tests.Queue;

/// <summary>Native.DeleteIfPresent: one unlink(2) for the queue's logs and markers, which are usually missing.</summary>
public sealed class DeleteIfPresentTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ph-unlink-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void A_file_is_deleted_and_a_missing_file_or_directory_is_not_an_error()
    {
        string file = Path.Combine(_dir.FullName, "4A1B2C3D4E");
        File.WriteAllText(file, "log");

        Native.DeleteIfPresent(file);
        Assert.False(File.Exists(file));
        Native.DeleteIfPresent(file);
        Native.DeleteIfPresent(Path.Combine(_dir.FullName, "no-such-dir", "4A1B2C3D4E"));
    }

    [Fact]
    public void Any_other_error_is_reported_as_File_Delete_reports_it()
    {
        string dir = Path.Combine(_dir.FullName, "a-directory");
        Directory.CreateDirectory(dir);

        var e = Record.Exception(() => Native.DeleteIfPresent(dir));

        Assert.True(e is IOException or UnauthorizedAccessException, e?.GetType().Name ?? "no exception");
        Assert.True(Directory.Exists(dir));
    }
}
