using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Posthorn.Config;
using Posthorn.Daemon.Master;
using Posthorn.Logging;
using Posthorn.Mail.Auth;
using Posthorn.Smtp;

namespace Posthorn.Daemon.Smtpd;

/// <summary>smtpd's TLS and SASL settings, read from one configuration snapshot into <see cref="SmtpServerOptions"/>.</summary>
/// <remarks>
/// Parameters: smtpd_tls_security_level, smtpd_tls_cert_file, smtpd_tls_key_file, smtpd_tls_chain_files,
/// smtpd_tls_protocols, smtpd_tls_mandatory_protocols, smtpd_tls_auth_only, smtpd_tls_loglevel,
/// smtpd_tls_received_header, smtpd_tls_wrappermode, smtpd_sasl_auth_enable, smtpd_sasl_type,
/// smtpd_sasl_security_options, smtpd_sasl_tls_security_options, broken_sasl_auth_clients,
/// smtpd_sasl_authenticated_header, posthorn_passwd_file, smtputf8_enable.
/// Security: the key file is read here, while the daemon still has the rights to read it.
/// </remarks>
public static class SmtpdSecurity
{
    public static SmtpServerOptions Apply(SmtpServerOptions options, ConfigSnapshot cfg, MailLog log)
    {
        var level = cfg.Get("smtpd_tls_security_level").Trim().ToLowerInvariant() switch
        {
            "may" => SmtpTlsSecurityLevel.May,
            "encrypt" => SmtpTlsSecurityLevel.Encrypt,
            "" or "none" => SmtpTlsSecurityLevel.None,
            var other => Unsupported(log, other),
        };
        bool wrapper = cfg.GetBool("smtpd_tls_wrappermode");
        X509Certificate2? cert = null;
        X509Certificate2Collection? chain = null;
        if (level != SmtpTlsSecurityLevel.None || wrapper)
        {
            (cert, chain) = LoadCertificate(cfg, log);
            if (cert is null) log.Warning("smtpd", "No server certs available. TLS won't be enabled");
        }
        // Postfix postconf(5): the mandatory list applies at level encrypt, the other one at may.
        string protocolsName = level == SmtpTlsSecurityLevel.Encrypt ? "smtpd_tls_mandatory_protocols" : "smtpd_tls_protocols";
        if (!TlsProtocolList.TryParse(cfg.Get(protocolsName), out var protocols))
        {
            log.Warning("smtpd", $"{protocolsName}: no supported protocol in \"{cfg.Get(protocolsName)}\"; using the system default");
            protocols = SslProtocols.None;
        }
        return options with
        {
            TlsCertificate = cert,
            TlsChain = chain,
            TlsSecurityLevel = level,
            TlsAuthOnly = cfg.GetBool("smtpd_tls_auth_only"),
            TlsProtocols = protocols,
            TlsReceivedHeader = cfg.GetBool("smtpd_tls_received_header"),
            TlsLogLevel = (int)cfg.GetNumber("smtpd_tls_loglevel"),
            TlsWrapperMode = wrapper,
            SaslAuthEnable = cfg.GetBool("smtpd_sasl_auth_enable"),
            Authenticator = cfg.GetBool("smtpd_sasl_auth_enable") ? Authenticator(cfg, log) : null,
            SaslNoPlaintext = HasOption(cfg, "smtpd_sasl_security_options", "noplaintext"),
            SaslTlsNoPlaintext = HasOption(cfg, "smtpd_sasl_tls_security_options", "noplaintext"),
            BrokenSaslAuthClients = cfg.GetBool("broken_sasl_auth_clients"),
            SaslAuthenticatedHeader = cfg.GetBool("smtpd_sasl_authenticated_header"),
            SmtpUtf8Enable = cfg.GetBool("smtputf8_enable"),
        };
    }

    private static SmtpTlsSecurityLevel Unsupported(MailLog log, string value)
    {
        log.Warning("smtpd", $"invalid smtpd_tls_security_level value \"{value}\"; using none");
        return SmtpTlsSecurityLevel.None;
    }

    private static bool HasOption(ConfigSnapshot cfg, string name, string option) =>
        cfg.GetList(name).Any(o => o.Equals(option, StringComparison.OrdinalIgnoreCase));

    /// <summary>Postfix: smtpd_tls_chain_files (each file a key followed by its certificate chain) takes
    /// precedence over smtpd_tls_cert_file and smtpd_tls_key_file. Only the first chain file is used.</summary>
    internal static (X509Certificate2? Cert, X509Certificate2Collection? Chain) LoadCertificate(ConfigSnapshot cfg, MailLog log)
    {
        var chainFiles = cfg.GetList("smtpd_tls_chain_files");
        string certFile = chainFiles.Count > 0 ? chainFiles[0] : cfg.Get("smtpd_tls_cert_file");
        string keyFile = chainFiles.Count > 0 ? chainFiles[0] : cfg.Get("smtpd_tls_key_file");
        return PemCertificate.Load(certFile, keyFile, log, "smtpd");
    }

    /// <summary>smtpd_sasl_type = posthorn: posthorn_passwd_file when set, else the system accounts.
    /// DEVIATION: Postfix's default type "cyrus" means the same here (there is no Cyrus SASL library in
    /// Posthorn); "dovecot" would need Dovecot's auth socket, which Posthorn does not speak, so AUTH stays off.</summary>
    private static ISmtpAuthenticator? Authenticator(ConfigSnapshot cfg, MailLog log)
    {
        string type = cfg.Get("smtpd_sasl_type").Trim().ToLowerInvariant();
        if (type is not ("posthorn" or "cyrus"))
        {
            log.Warning("smtpd", $"unsupported SASL server implementation: {type}; AUTH is not offered");
            return null;
        }
        string file = cfg.Get("posthorn_passwd_file").Trim();
        IPasswordDatabase db = file.Length > 0 ? new PasswdFile(file) : new SystemPasswordDatabase();
        return new PasswordDatabaseAuthenticator(db) { AuthRate = ClientRateLimit.From(cfg, "smtpd_client_auth_rate_limit", log) };
    }
}

/// <summary>The engine's <see cref="ISmtpAuthenticator"/> over a <see cref="IPasswordDatabase"/>. It is also an
/// <see cref="ISmtpSecretAuthenticator"/>, so the engine offers CRAM-MD5 exactly when the database keeps plaintext
/// secrets (a passwd-file with {PLAIN}/{CLEAR} entries; never the system accounts, whose passwords are hashed),
/// and an <see cref="ISmtpScramAuthenticator"/>, offering SCRAM-SHA-1/256 when it keeps plaintext or SCRAM secrets.</summary>
public sealed class PasswordDatabaseAuthenticator(IPasswordDatabase database) : ISmtpSecretAuthenticator, ISmtpScramAuthenticator, ISmtpAuthRateLimiter
{
    /// <summary>smtpd_client_auth_rate_limit, or null for no limit.</summary>
    public ClientRateLimit? AuthRate { get; init; }

    /// <summary>Postfix smtpd(8): over smtpd_client_auth_rate_limit, "450 4.7.1 Error: too many AUTH commands from addr"
    /// and the warning "AUTH command rate limit exceeded: N from host[addr] for service smtp".</summary>
    public Posthorn.Core.SmtpReply? CheckAuthRate(SmtpSessionInfo session)
    {
        Activity?.Record(Posthorn.Daemon.Policy.AnvilEvent.Auth, session.ServiceName, session.Client.Address);
        return AuthRate?.Check("auth", session.ServiceName, session.Client.Address, session.ClientDescription, "AUTH command") is null
            ? null
            : new Posthorn.Core.SmtpReply(450, "4.7.1", $"Error: too many AUTH commands from {session.AddressText}");
    }

    /// <summary>The daemon-wide activity view (<c>posthorn anvil</c>), set by the master when a session starts:
    /// counts every AUTH command whatever the limit.</summary>
    public Posthorn.Daemon.Policy.AnvilRegistry? Activity { get; set; }

    public bool HasPlaintextSecrets => database is IPlaintextSecretDatabase { HasPlaintextSecrets: true };

    public async ValueTask<(SmtpAuthResult Result, string? Secret)> GetSecretAsync(string user, CancellationToken ct)
    {
        if (database is not IPlaintextSecretDatabase secrets) return (SmtpAuthResult.Failure, null);
        var (result, secret) = await secrets.GetSecretAsync(user, ct);
        return result switch
        {
            AuthResult.Success => (SmtpAuthResult.Success, secret),
            AuthResult.TemporaryFailure => (SmtpAuthResult.TemporaryFailure, null),
            _ => (SmtpAuthResult.Failure, null),
        };
    }

    public bool OffersScram(Posthorn.Sasl.ScramHash hash) => database is IScramSecretDatabase scram && scram.HasScramSecrets(hash);

    public async ValueTask<(SmtpAuthResult Result, Posthorn.Sasl.ScramCredentials? Credentials)> GetScramCredentialsAsync(
        string user, Posthorn.Sasl.ScramHash hash, CancellationToken ct)
    {
        if (database is not IScramSecretDatabase scram) return (SmtpAuthResult.Failure, null);
        var (result, credentials) = await scram.GetScramAsync(user, hash, ct);
        return result switch
        {
            AuthResult.Success => (SmtpAuthResult.Success, credentials),
            AuthResult.TemporaryFailure => (SmtpAuthResult.TemporaryFailure, null),
            _ => (SmtpAuthResult.Failure, null),
        };
    }

    public async ValueTask<SmtpAuthResult> AuthenticateAsync(string user, string password, CancellationToken ct) =>
        await database.VerifyAsync(user, password, ct) switch
        {
            AuthResult.Success => SmtpAuthResult.Success,
            AuthResult.TemporaryFailure => SmtpAuthResult.TemporaryFailure,
            _ => SmtpAuthResult.Failure,
        };
}
