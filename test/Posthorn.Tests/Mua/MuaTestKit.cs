using System.Text;
using Posthorn.Mua;

namespace Posthorn.Tests.Mua;

/// <summary>A temp directory with a test mbox, and a <see cref="MuaContext"/> whose submissions are captured.</summary>
internal sealed class MuaFixture : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("posthorn-mua-");

    public const string Message1 =
        "From alice@example.test Tue Nov 25 13:17:08 2025\n" +
        "Return-Path: <alice@example.test>\n" +
        "From: Alice <alice@example.test>\n" +
        "To: bob@example.test\n" +
        "Cc: carol@example.test\n" +
        "Subject: first\n" +
        "Message-ID: <one@example.test>\n" +
        "Date: Tue, 25 Nov 2025 13:17:08 +0000\n" +
        "\n" +
        "Hello Bob.\n" +
        ">From the start of a line\n" +
        "\n";

    public const string Message2 =
        "From carol@example.test Wed Nov 26 09:05:44 2025\n" +
        "From: carol@example.test\n" +
        "To: bob@example.test\n" +
        "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n" +
        "Status: RO\n" +
        "\n" +
        "second body\n" +
        "\n";

    public const string Message3 =
        "From dave@example.test Thu Nov 27 18:30:00 2025\n" +
        "From: Dave <dave@example.test>\n" +
        "To: bob@example.test\n" +
        "Subject: third\n" +
        "Status: O\n" +
        "\n" +
        "third body\n" +
        "\n";

    public MuaFixture()
    {
        Directory.CreateDirectory(Spool);
        File.WriteAllText(Mbox, Message1 + Message2 + Message3);
    }

    public string Dir => _temp.FullName;
    public string Spool => Path.Combine(Dir, "mail");
    public string Mbox => Path.Combine(Spool, "bob");
    public StringWriter Out { get; } = new();
    public StringWriter Err { get; } = new();
    public List<(string? Sender, IReadOnlyList<string> Recipients, string Message)> Sent { get; } = [];

    public MuaContext Context(string stdin, string spool = "", string homeMailbox = "") => new(
        "bob",
        IsRoot: false,
        spool.Length > 0 ? spool : Spool,
        homeMailbox,
        user => Path.Combine(Dir, "home", user),
        (sender, rcpts, message) =>
        {
            Sent.Add((sender, rcpts, new StreamReader(message).ReadToEnd()));
            return 0;
        },
        new StringReader(stdin), Out, Err,
        () => new MemoryStream(Encoding.UTF8.GetBytes(stdin)),
        TimeProvider.System);

    public int Run(string stdin, params string[] args) => MailProgram.Run(args, Context(stdin));

    public void Dispose() => _temp.Delete(recursive: true);
}
