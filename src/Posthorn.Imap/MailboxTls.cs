using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Posthorn.Imap;

/// <summary>The TLS handshake of imapd and pop3d: STARTTLS (RFC 9051 §6.2.1), STLS (RFC 2595 §4) and the
/// implicit-TLS rows imaps/pop3s (RFC 8314 §3.3, <c>-o imapd_tls_wrappermode=yes</c>), over the platform's
/// <see cref="SslStream"/> as smtpd does.</summary>
/// <remarks>Security: the caller drops every byte read before the handshake and builds new pipes over the
/// returned stream (RFC 2595 §3.1, the STARTTLS command-injection class); the handshake is bounded by
/// imapd_timeout.</remarks>
internal static class MailboxTls
{
    /// <summary>Runs the server handshake over <paramref name="inner"/>; the TLS stream, or the reason it failed.</summary>
    public static async ValueTask<(SslStream? Stream, string? Error)> HandshakeAsync(Stream inner, ImapSessionOptions options,
        TimeProvider clock, CancellationToken ct)
    {
        var ssl = new SslStream(inner, leaveInnerStreamOpen: false);
        var serverOptions = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(options.TlsCertificate!, options.TlsChain, offline: true),
            EnabledSslProtocols = options.TlsProtocols,
            ClientCertificateRequired = false,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };
        using var timeout = new CancellationTokenSource(options.Timeout, clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
        try
        {
            await ssl.AuthenticateAsServerAsync(serverOptions, linked.Token);
            return (ssl, null);
        }
        catch (Exception e) when (e is AuthenticationException or IOException
            || e is OperationCanceledException && timeout.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            await ssl.DisposeAsync();
            return (null, e is OperationCanceledException ? "timed out" : e.InnerException?.Message ?? e.Message);
        }
    }
}
