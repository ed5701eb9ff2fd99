using System.Net;
using System.Net.Sockets;
using Posthorn.Config;

namespace Posthorn.Tests.Config;

/// <summary>A temporary config directory and a fixed machine for configuration tests.</summary>
internal sealed class TestConfig : IDisposable
{
    public TestConfig(string mainCf, string? masterCf = null)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("posthorn-config-").FullName;
        File.WriteAllText(MainCf, mainCf);
        if (masterCf is not null)
            File.WriteAllText(Path.Combine(Directory, "master.cf"), masterCf);
    }

    public string Directory { get; }

    public string MainCf => Path.Combine(Directory, "main.cf");

    public static HostInfo Host { get; } = new()
    {
        Fqdn = "mail.example.test",
        Interfaces =
        [
            new(IPAddress.Loopback, 8),
            new(IPAddress.Parse("192.168.10.5"), 24),
            new(IPAddress.Parse("10.1.2.3"), 16),
            new(IPAddress.IPv6Loopback, 128),
        ],
        SupportsIPv6 = true,
        ResolveHost = name => name == "mx.example.test"
            ? [IPAddress.Parse("192.0.2.25")]
            : throw new SocketException((int)SocketError.HostNotFound),
        LookupService = name => name switch { "smtp" => 25, "submission" => 587, _ => null },
    };

    public ConfigSnapshot Load() => ConfigSnapshot.Load(Directory, Host);

    public static ConfigSnapshot Load(string mainCf, string? masterCf = null)
    {
        using var t = new TestConfig(mainCf, masterCf);
        return t.Load();
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
