using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Posthorn.Mail.Outbound;

namespace Posthorn.Tests.Outbound;

/// <summary>A real DNS server on 127.0.0.1: dnsmasq (Debian package dnsmasq-base), authoritative for
/// <c>test</c> with the records given, started on a free port and stopped on dispose.</summary>
public sealed class LoopbackDns : IDisposable
{
    private readonly Process _process;

    public LoopbackDns(params string[] records)
    {
        string dnsmasq = new[] { "/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("dnsmasq is not installed (apt-get install dnsmasq-base)");
        for (int attempt = 0; ; attempt++)
        {
            Port = FreeUdpPort();
            var psi = new ProcessStartInfo(dnsmasq)
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            foreach (var a in (string[])["--no-daemon", "--keep-in-foreground", $"--port={Port}", "--listen-address=127.0.0.1",
                "--bind-interfaces", "--no-resolv", "--no-hosts", "--no-poll", "--pid-file=", "--conf-file=/dev/null", "--local=/test/", "--cache-size=0"])
                psi.ArgumentList.Add(a);
            foreach (var r in records) psi.ArgumentList.Add(r);
            _process = Process.Start(psi)!;
            _process.BeginOutputReadLine();
            var errors = new System.Text.StringBuilder();
            _process.ErrorDataReceived += (_, e) => { lock (errors) errors.AppendLine(e.Data); };
            _process.BeginErrorReadLine();
            if (WaitUntilAnswering()) return;
            _process.Kill();
            _process.WaitForExit();
            _process.Dispose();
            if (attempt == 3) throw new InvalidOperationException($"dnsmasq did not start: {errors}");
        }
    }

    public int Port { get; private set; }

    public DnsClientResolver Resolver(TimeSpan? timeout = null) =>
        new([new IPEndPoint(IPAddress.Loopback, Port)], timeout ?? TimeSpan.FromSeconds(2));

    /// <summary>Polls with a real query until dnsmasq answers (bounded: it starts in milliseconds).</summary>
    private bool WaitUntilAnswering()
    {
        var resolver = new DnsClientResolver([new IPEndPoint(IPAddress.Loopback, Port)], TimeSpan.FromMilliseconds(200));
        for (int i = 0; i < 50 && !_process.HasExited; i++)
        {
            var answer = resolver.LookupAAsync("probe.test", CancellationToken.None).AsTask().GetAwaiter().GetResult();
            if (answer.Status != DnsStatus.TryAgain) return true;
        }
        return false;
    }

    private static int FreeUdpPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    public void Dispose()
    {
        try { _process.Kill(); } catch (InvalidOperationException) { }
        _process.WaitForExit();
        _process.Dispose();
    }
}
