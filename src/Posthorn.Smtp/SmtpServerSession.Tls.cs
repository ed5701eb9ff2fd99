using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Posthorn.Smtp;

/// <summary>STARTTLS (RFC 3207) and smtpd_tls_wrappermode, over the platform's <see cref="SslStream"/>.</summary>
/// <remarks>Security: after <c>220 2.0.0 Ready to start TLS</c> every byte the client sent in plain text
/// is dropped before the handshake (RFC 3207 §4.2; the CVE-2011-0411 command-injection class), and
/// the pipes are rebuilt over the <see cref="SslStream"/>, so nothing read before TLS is ever parsed
/// after it. The session then forgets HELO, the transaction and any SASL login.</remarks>
public sealed partial class SmtpServerSession
{
    /// <summary>STARTTLS is announced: a level other than none, no TLS yet, and the keyword not discarded
    /// (Postfix: a discarded STARTTLS is also refused as not implemented).</summary>
    private bool TlsOffered => _options.TlsSecurityLevel != SmtpTlsSecurityLevel.None && !_info.IsTls
        && !_options.DiscardEhloKeywords.Contains("starttls");

    /// <summary>Postfix smtpd.c: with smtpd_tls_security_level = encrypt these commands work before TLS (SMTPD_CMD_FLAG_PRE_TLS).</summary>
    private static bool AllowedBeforeTls(SmtpVerb verb) =>
        verb is SmtpVerb.Helo or SmtpVerb.Ehlo or SmtpVerb.StartTls or SmtpVerb.Noop or SmtpVerb.Quit;

    private async ValueTask<bool> StartTlsAsync(ReadOnlyMemory<byte> args)
    {
        if (!args.IsEmpty)
        {
            await ReplyAsync(SmtpReplies.StartTlsSyntax);
            return false;
        }
        if (_info.IsTls)
        {
            await ReplyAsync(SmtpReplies.TlsAlreadyActive);
            return false;
        }
        if (!TlsOffered)
        {
            await ReplyAsync(SmtpReplies.CommandNotImplemented);
            return false;
        }
        if (_options.TlsCertificate is null)
        {
            await ReplyAsync(SmtpReplies.TlsNotAvailable);
            return false;
        }
        if (_tx is not null)
        {
            await ReplyAsync(SmtpReplies.MailTransactionInProgress);
            return false;
        }
        await ReplyAsync(SmtpReplies.ReadyToStartTls);
        await FlushAsync();

        // RFC 3207 §4.2: "the server MUST discard any knowledge obtained from the client ... which was
        // not obtained from the TLS negotiation itself". Bytes pipelined after STARTTLS are dropped
        // unread: they were sent in plain text, so a man in the middle may have put them there.
        if (_holding)
        {
            _input.AdvanceTo(_buffer.End);
            _holding = false;
        }
        _buffer = default;
        await _input.CompleteAsync();
        await _output.CompleteAsync();
        if (!await HandshakeAsync()) return false;

        await EndTransactionAsync();
        _info.HeloName = null;        // RFC 3207 §4.2: the client must send EHLO again.
        _info.Protocol = "SMTP";
        _info.SaslMethod = null;
        _info.SaslUsername = null;
        return true;
    }

    /// <summary>smtpd_tls_wrappermode: the handshake comes before the greeting (smtps, RFC 8314 §3.3).</summary>
    private async ValueTask<bool> WrapperModeHandshakeAsync()
    {
        if (_options.TlsCertificate is null)
        {
            _log.SmtpdSessionFailed(Client, "smtpd_tls_wrappermode = yes but no server certificate is configured");
            _reason = "lost connection";
            return false;
        }
        return await HandshakeAsync();
    }

    /// <summary>Puts an <see cref="SslStream"/> over the connection and new pipes over it, then runs the
    /// server handshake within smtpd_timeout. False (logged, session over) when it fails.</summary>
    private async ValueTask<bool> HandshakeAsync()
    {
        var ssl = new SslStream(_stream, leaveInnerStreamOpen: false);
        _stream = ssl;
        _input = PipeReader.Create(ssl, new StreamPipeReaderOptions(leaveOpen: true));
        _output = PipeWriter.Create(ssl, new StreamPipeWriterOptions(leaveOpen: true));
        _inputCompleted = false;
        var serverOptions = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(_options.TlsCertificate!, _options.TlsChain, offline: true),
            EnabledSslProtocols = _options.TlsProtocols,
            ClientCertificateRequired = false,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };
        _timeout.CancelAfter(_options.Timeout);
        try
        {
            await ssl.AuthenticateAsServerAsync(serverOptions, _ct);
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            _log.SmtpdTlsAcceptError(Client, e.InnerException?.Message ?? e.Message);
            _reason = "lost connection";
            _hangup = true;
            return false;
        }
        finally
        {
            _timeout.CancelAfter(Timeout.InfiniteTimeSpan);
        }
        _info.TlsProtocol = ProtocolName(ssl.SslProtocol);
        _info.TlsCipher = ssl.NegotiatedCipherSuite.ToString();
        _info.TlsCipherBits = CipherBits(_info.TlsCipher);
        if (_options.TlsLogLevel >= 1)
            _log.SmtpdTlsEstablished(Client, _info.TlsProtocol, _info.TlsCipher, _info.TlsCipherBits);
        return true;
    }

    /// <summary>OpenSSL's protocol names, as Postfix logs them.</summary>
    private static string ProtocolName(SslProtocols protocol) => protocol switch
    {
        SslProtocols.Tls13 => "TLSv1.3",
        SslProtocols.Tls12 => "TLSv1.2",
        _ => protocol.ToString(),
    };

    /// <summary>The symmetric key size, read from the suite name (SslStream.CipherStrength is obsolete).
    /// DEVIATION: Postfix shows OpenSSL's suite names; for TLSv1.2 these are the IANA names instead
    /// (TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 for ECDHE-RSA-AES256-GCM-SHA384). TLSv1.3 names agree.</summary>
    internal static int CipherBits(string suite) =>
        suite.Contains("AES_256", StringComparison.Ordinal) || suite.Contains("CHACHA20", StringComparison.Ordinal) ? 256
        : suite.Contains("AES_128", StringComparison.Ordinal) || suite.Contains("CAMELLIA_128", StringComparison.Ordinal) ? 128
        : suite.Contains("3DES", StringComparison.Ordinal) ? 168
        : 0;
}
