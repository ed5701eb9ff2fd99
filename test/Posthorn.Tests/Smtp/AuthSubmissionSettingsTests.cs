using Xunit;
using System.Net;
using Posthorn.Config;
using Posthorn.Core;
using Posthorn.Daemon.Master;
using Posthorn.Daemon.Smtpd;
using Posthorn.Daemon.Tools;
using Posthorn.Logging;
using Posthorn.Smtp;

namespace Posthorn.Tests.Smtp;

/// <summary>The daemon side: `posthorn tls new-server-cert`, main.cf/master.cf rows for submission and smtps
/// read into <see cref="SmtpServerOptions"/>, and permit_sasl_authenticated in smtpd_client_restrictions.</summary>
public class AuthSubmissionSettingsTests : IDisposable
{
    private const string MasterCf = """
        127.0.0.1:2525 inet n - n - - smtpd
        submission inet n - n - - smtpd
          -o smtpd_tls_security_level=encrypt
          -o smtpd_sasl_auth_enable=yes
          -o smtpd_client_restrictions=permit_sasl_authenticated,reject
        smtps inet n - n - - smtpd
          -o smtpd_tls_wrappermode=yes
          -o smtpd_sasl_auth_enable=yes
        """;

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-submission-");

    public void Dispose() => _dir.Delete(recursive: true);

    private async Task<ConfigSnapshot> ConfigureAsync()
    {
        string dir = _dir.FullName;
        File.WriteAllText(Path.Combine(dir, "main.cf"), $"""
            myhostname = mail.example.test
            mydestination = localhost
            smtpd_tls_cert_file = {dir}/tls/cert.pem
            smtpd_tls_key_file = {dir}/tls/key.pem
            smtpd_tls_security_level = may
            smtpd_sasl_type = posthorn
            posthorn_passwd_file = {dir}/passwd
            """);
        File.WriteAllText(Path.Combine(dir, "master.cf"), MasterCf);
        File.WriteAllText(Path.Combine(dir, "passwd"), "alice:{PLAIN}secret:1000:1000::/home/alice::\n");
        var output = new StringWriter();
        var ctx = new ToolContext { Out = output, Err = output, GetEnv = _ => null };
        Assert.Equal(0, await TlsCommand.RunAsync(["new-server-cert", "-c", dir], ctx));
        Assert.Contains($"smtpd_tls_cert_file = {dir}/tls/cert.pem", output.ToString());
        return ConfigSnapshot.Load(dir);
    }

    private static Settings ForService(ConfigSnapshot cfg, string name) =>
        Settings.From(cfg.WithOverrides(cfg.Master.Services.First(s => s.Name == name).Overrides), MailLog.Discard);

    private static SmtpSessionInfo Client(string? saslUser = null) => new()
    {
        Client = new IPEndPoint(IPAddress.Parse("192.0.2.7"), 40000),
        ClientName = "client.example",
        SaslMethod = saslUser is null ? null : "PLAIN",
        SaslUsername = saslUser,
    };

    [Fact]
    public async Task New_server_cert_writes_a_private_key_and_a_certificate_for_myhostname()
    {
        await ConfigureAsync();
        string key = Path.Combine(_dir.FullName, "tls", "key.pem");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        var cert = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(
            Path.Combine(_dir.FullName, "tls", "cert.pem"), key);
        Assert.True(cert.HasPrivateKey);
        Assert.Equal("CN=mail.example.test", cert.Subject);
        var again = new StringWriter();
        Assert.Equal(1, await TlsCommand.RunAsync(["new-server-cert", "-c", _dir.FullName], new ToolContext { Out = again, Err = again }));
    }

    [Fact]
    public async Task Submission_row_requires_tls_enables_auth_and_restricts_clients()
    {
        var cfg = await ConfigureAsync();
        var s = ForService(cfg, "submission");
        Assert.Equal(SmtpTlsSecurityLevel.Encrypt, s.Smtpd.TlsSecurityLevel);
        Assert.NotNull(s.Smtpd.TlsCertificate);
        Assert.True(s.Smtpd.SaslAuthEnable);
        Assert.Equal(SmtpAuthResult.Success, await s.Smtpd.Authenticator!.AuthenticateAsync("alice", "secret", default));
        Assert.Equal(SmtpAuthResult.Failure, await s.Smtpd.Authenticator!.AuthenticateAsync("alice", "Secret", default));
        Assert.Equal(["permit_sasl_authenticated", "reject"], s.ClientRestrictions);

        var remote = new SmtpPath("friend", "elsewhere.example");
        Assert.Equal(new SmtpReply(554, "5.7.1", "<client.example[192.0.2.7]>: Client host rejected: Access denied"),
            RecipientPolicy.Evaluate(s, Client(), remote, _ => true));
        // Postfix's default smtpd_relay_restrictions permit an authenticated client to relay.
        Assert.Null(RecipientPolicy.Evaluate(s, Client("alice"), remote, _ => true));
    }

    [Fact]
    public async Task Smtps_row_runs_wrapper_mode_and_the_plain_port_keeps_main_cf()
    {
        var cfg = await ConfigureAsync();
        var smtps = ForService(cfg, "smtps");
        Assert.True(smtps.Smtpd.TlsWrapperMode);
        Assert.NotNull(smtps.Smtpd.TlsCertificate);
        var plain = Settings.From(cfg, MailLog.Discard);
        Assert.False(plain.Smtpd.TlsWrapperMode);
        Assert.False(plain.Smtpd.SaslAuthEnable);
        Assert.Null(plain.Smtpd.Authenticator);
        Assert.Equal(SmtpTlsSecurityLevel.May, plain.Smtpd.TlsSecurityLevel);
        // Without SASL no client counts as authenticated: relaying stays denied.
        var remote = new SmtpPath("friend", "elsewhere.example");
        Assert.Equal(454, RecipientPolicy.Evaluate(plain, Client(), remote, _ => true)!.Value.Code);
    }
}
