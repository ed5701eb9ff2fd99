using System.Text;
using Posthorn.Core;
using Posthorn.Logging;
using Posthorn.Mail.Delivery;

namespace Posthorn.Tests.Delivery;

/// <summary>A clock stopped at one instant, in UTC.</summary>
internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;
    public override DateTimeOffset GetUtcNow() => Now;
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
}

/// <summary>Accounts that all belong to the user running the tests, with homes under a temp directory.</summary>
internal sealed class FakeUsers(string homeRoot, params string[] names) : IUserDatabase
{
    public static int Uid => (int)Posthorn.Mail.Delivery.LibC.geteuid();
    public static int Gid => (int)Posthorn.Mail.Delivery.LibC.getegid();

    public bool TryGetUser(string name, out SystemUser user)
    {
        user = new SystemUser(name, Uid, Gid, Path.Combine(homeRoot, name), "/bin/sh");
        return names.Contains(name);
    }
}

/// <summary>A temp directory with a spool, homes and a transport over them.</summary>
internal sealed class DeliveryFixture : IDisposable
{
    public static readonly DateTimeOffset Epoch = new(2026, 11, 5, 13, 17, 8, TimeSpan.Zero);

    public DeliveryFixture(params string[] users)
    {
        Root = Directory.CreateTempSubdirectory("posthorn-local-").FullName;
        Spool = Path.Combine(Root, "spool");
        Directory.CreateDirectory(Spool);
        foreach (var u in users) Directory.CreateDirectory(Path.Combine(Root, "home", u));
        Users = new FakeUsers(Path.Combine(Root, "home"), users);
    }

    public string Root { get; }
    public string Spool { get; }
    public FakeUsers Users { get; }
    public FixedClock Clock { get; } = new(Epoch);
    public MemoryLogSink LogLines { get; } = new();
    public MailLog Log => new(LogLines, "postfix", "host.example", Clock, 4242);

    public LocalDeliveryOptions Options(string aliases = "") => new()
    {
        MyHostname = "host.example",
        MailSpoolDirectory = Spool,
        Aliases = aliases.Length == 0 ? [] : [Aliases(aliases)],
        DeliverLockAttempts = 2,
        DeliverLockDelay = TimeSpan.FromMilliseconds(10),
    };

    public AliasDatabase Aliases(string text)
    {
        string src = Path.Combine(Root, "aliases");
        File.WriteAllText(src, text);
        AliasDatabase.Compile(src, src + ".db");
        return AliasDatabase.Open(src, Log, Clock)!;
    }

    public LocalTransport Transport(LocalDeliveryOptions? o = null, IUserDatabase? users = null) =>
        new(o ?? Options(), users ?? Users, Clock, Log);

    public static LocalDeliveryRequest Request(string to, string message, string from = "alice@remote.example", string? orig = null) =>
        new(new QueueId("3F1A2B0C4D"), SmtpPath.FromAddress(from), SmtpPath.FromAddress(to), orig,
            () => new MemoryStream(Encoding.UTF8.GetBytes(message)), Epoch.AddSeconds(-2));

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
