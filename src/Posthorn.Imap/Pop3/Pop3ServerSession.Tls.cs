using System.IO.Pipelines;
using Posthorn.Imap;

namespace Posthorn.Pop3;

/// <summary>STLS (RFC 2595 §4) and implicit TLS (pop3s, RFC 8314 §3.3).</summary>
/// <remarks>Security: bytes pipelined after STLS are dropped unread with the old pipes, and the
/// pending USER is forgotten (RFC 2595 §4: after TLS the client must send USER again).</remarks>
public sealed partial class Pop3ServerSession
{
    private void AttachPipes(Stream s)
    {
        _input = PipeReader.Create(s, new StreamPipeReaderOptions(leaveOpen: true));
        _output = PipeWriter.Create(s, new StreamPipeWriterOptions(leaveOpen: true));
    }

    private async ValueTask StartTlsAsync(string arg)
    {
        // RFC 2595 §4: "-ERR" when TLS is already active or cannot be started.
        if (arg.Length != 0) { await SendAsync("-ERR Invalid arguments."); return; }
        if (_options.IsTls) { await SendAsync("-ERR TLS is already active."); return; }
        if (_options.TlsCertificate is null) { await SendAsync("-ERR TLS support isn't enabled."); return; }
        await SendAsync("+OK Begin TLS negotiation now.");
        await _input.CompleteAsync();
        await _output.CompleteAsync();
        await HandshakeAsync();
    }

    private async ValueTask<bool> WrapperModeHandshakeAsync()
    {
        if (_options.TlsCertificate is null)
        {
            log.Warning("pop3", "imapd_tls_wrappermode = yes but no server certificate is configured");
            return false;
        }
        await _input.CompleteAsync();
        await _output.CompleteAsync();
        return await HandshakeAsync();
    }

    private async ValueTask<bool> HandshakeAsync()
    {
        var (ssl, error) = await MailboxTls.HandshakeAsync(_stream, _options, clock, _ct);
        if (ssl is null)
        {
            log.ImapTlsFailed("pop3", _options.RemoteIp, _options.LocalIp, error ?? "");
            throw new IOException("TLS handshake failed: " + error);
        }
        _stream = ssl;
        AttachPipes(ssl);
        _options = _options with { IsTls = true };
        return true;
    }
}
