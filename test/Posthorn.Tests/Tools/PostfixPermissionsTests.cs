using System.Runtime.InteropServices;
using Posthorn.Daemon.Tools;
using Posthorn.Tests.Config;
using Xunit;

namespace Posthorn.Tests.Tools;

/// <summary>postfix check (warns; as root, repairs) and postfix set-permissions (repairs): the queue directories
/// Posthorn uses exist, belong to mail_owner and have Postfix's modes.</summary>
public partial class PostfixPermissionsTests
{
    private const string MasterCf = "127.0.0.1:2525 inet n - n - - smtpd\n";
    private static readonly string[] Subdirectories =
        ["maildrop", "incoming", "active", "deferred", "hold", "corrupt", "defer", "bounce", "tmp", "private", "pid"];
    private const UnixFileMode Mode0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode Mode0755 = Mode0700 | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private static string Queue(TestConfig t) => Path.Combine(t.Directory, "queue");
    private static string Data(TestConfig t) => Path.Combine(t.Directory, "data");

    private static TestConfig Setup()
    {
        var t = new TestConfig("", MasterCf);
        File.WriteAllText(t.MainCf, $"queue_directory = {Path.Combine(t.Directory, "queue")}\ndata_directory = {Path.Combine(t.Directory, "data")}\n" +
            $"mail_owner = {Environment.UserName}\ninet_interfaces = loopback-only\nmynetworks = 127.0.0.0/8\n");
        Directory.CreateDirectory(Queue(t));
        Directory.CreateDirectory(Data(t));
        File.SetUnixFileMode(Data(t), Mode0755);
        return t;
    }

    private static (int Status, string Err) Check(TestConfig t, bool fix)
    {
        var stderr = new StringWriter();
        int status = PostfixCheck.Run(new ToolContext { Out = new StringWriter(), Err = stderr, GetEnv = _ => null },
            t.Directory, TestConfig.Host, _ => true, fix);
        return (status, stderr.ToString());
    }

    [Fact]
    public void Without_fixing_missing_directories_and_wrong_modes_are_only_warned_about()
    {
        using var t = Setup();
        var (status, err) = Check(t, fix: false);
        Assert.Equal(0, status);
        var expected = Subdirectories.Select(d => $"posthorn/postfix-script: warning: missing directory: {Path.Combine(Queue(t), d)}\n")
            .Append($"posthorn/postfix-script: warning: mode 0755 is not 0700: {Data(t)}\n");
        Assert.Equal(string.Concat(expected), err);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Queue(t)));
        Assert.Equal(Mode0755, File.GetUnixFileMode(Data(t)));
    }

    [Fact]
    public void Fixing_creates_the_directories_with_mode_0700_sets_modes_and_a_second_run_is_silent()
    {
        using var t = Setup();
        Directory.CreateDirectory(Path.Combine(Queue(t), "pid"));
        File.SetUnixFileMode(Path.Combine(Queue(t), "pid"), Mode0755 | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite);
        var (status, err) = Check(t, fix: true);
        Assert.Equal(0, status);
        foreach (string d in Subdirectories.Where(d => d != "pid"))
        {
            Assert.Contains($"posthorn/postfix-script: created missing directory: {Path.Combine(Queue(t), d)}\n", err, StringComparison.Ordinal);
            Assert.Equal(Mode0700, File.GetUnixFileMode(Path.Combine(Queue(t), d)));
        }
        Assert.Contains($"posthorn/postfix-script: changed mode of {Path.Combine(Queue(t), "pid")} from 0777 to 0755\n", err, StringComparison.Ordinal);
        Assert.Equal(Mode0755, File.GetUnixFileMode(Path.Combine(Queue(t), "pid")));
        Assert.Contains($"posthorn/postfix-script: changed mode of {Data(t)} from 0755 to 0700\n", err, StringComparison.Ordinal);
        Assert.Equal(Mode0700, File.GetUnixFileMode(Data(t)));

        Assert.Equal((0, ""), Check(t, fix: false));
    }

    [Fact]
    public void As_root_fixing_gives_queue_directories_and_their_files_back_to_mail_owner()
    {
        if (geteuid() != 0) return; // only root can make a file that belongs to someone else.
        using var t = Setup();
        Assert.Equal(0, Check(t, fix: true).Status);
        string active = Path.Combine(Queue(t), "active");
        string file = Path.Combine(Queue(t), "deferred", "4ABCDE12345");
        File.WriteAllText(file, "queue file\n");
        Assert.Equal(0, chown(active, 65534, 65534));
        Assert.Equal(0, chown(file, 65534, 65534));

        var (_, warned) = Check(t, fix: false);
        Assert.Contains($"posthorn/postfix-script: warning: not owned by {Environment.UserName}: {active}\n", warned, StringComparison.Ordinal);
        Assert.Contains($"posthorn/postfix-script: warning: not owned by {Environment.UserName}: {file}\n", warned, StringComparison.Ordinal);

        var (status, err) = Check(t, fix: true);
        Assert.Equal(0, status);
        Assert.Contains($" changed owner of {active} from ", err, StringComparison.Ordinal);
        Assert.Contains($" changed owner of {file} from ", err, StringComparison.Ordinal);
        Assert.Equal((0, ""), Check(t, fix: false));
    }

    [Fact]
    public async Task Postfix_set_permissions_is_a_command_that_repairs()
    {
        using var t = Setup();
        var stderr = new StringWriter();
        int status = await PostfixCommand.RunAsync(["-c", t.Directory, "set-permissions"],
            new ToolContext { Out = new StringWriter(), Err = stderr, GetEnv = _ => null });
        Assert.True(status == 0, stderr.ToString());
        Assert.All(Subdirectories, d => Assert.True(Directory.Exists(Path.Combine(Queue(t), d)), d));
        Assert.Contains($"posthorn/postfix-script: created missing directory: {Path.Combine(Queue(t), "maildrop")}\n", stderr.ToString(), StringComparison.Ordinal);
    }

    [LibraryImport("libc")] private static partial uint geteuid();

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chown(string path, uint uid, uint gid);
}
