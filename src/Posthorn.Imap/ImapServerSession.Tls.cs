using System.IO.Pipelines;

namespace Posthorn.Imap;

/// <summary>STARTTLS (RFC 9051 §6.2.1) and implicit TLS (RFC 8314 §3.3, imapd_tls_wrappermode).</summary>
/// <remarks>Security: after the tagged OK every byte the client pipelined in plain text is dropped unread
/// and the pipes are rebuilt over the TLS stream (RFC 9051 §6.2.1: the client "MUST discard cached
/// information about server capabilities", and the server any state from before TLS).</remarks>
public sealed partial class ImapServerSession
{
    private void AttachPipes(Stream stream)
    {
        _input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        _output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        _w = new ImapResponseWriter(_output);
    }

    private async Task StartTlsAsync(string tag, IReadOnlyList<ImapToken> args)
    {
        // Dovecot's texts for the refusals.
        string? refusal = args.Count != 0 ? "BAD Invalid arguments."
            : _options.IsTls ? "BAD TLS is already active."
            : _options.TlsCertificate is null ? "BAD TLS support isn't enabled."
            : null;
        if (refusal is not null)
        {
            _w.Ascii($"{tag} {refusal}").Crlf();
            await FlushAsync();
            return;
        }
        _w.Ascii($"{tag} OK Begin TLS negotiation now.").Crlf();
        await FlushAsync();
        _bytesOutBeforeTls += _w.BytesWritten;
        // Whatever the client sent after STARTTLS arrived in plain text: drop it with the old pipes.
        await _input.CompleteAsync();
        await _output.CompleteAsync();
        await HandshakeAsync();
    }

    private async ValueTask<bool> WrapperModeHandshakeAsync()
    {
        if (_options.TlsCertificate is null)
        {
            _log.Warning("imap", "imapd_tls_wrappermode = yes but no server certificate is configured");
            _logout = true;
            return false;
        }
        await _input.CompleteAsync();
        await _output.CompleteAsync();
        return await HandshakeAsync();
    }

    /// <summary>Puts TLS over the connection; on failure the session ends (the peer has no usable channel).</summary>
    private async ValueTask<bool> HandshakeAsync()
    {
        var (ssl, error) = await MailboxTls.HandshakeAsync(_stream, _options, _clock, _ct);
        if (ssl is null)
        {
            _log.ImapTlsFailed("imap", _options.RemoteIp, _options.LocalIp, error ?? "");
            _logout = true;
            throw new IOException("TLS handshake failed: " + error);
        }
        _stream = ssl;
        AttachPipes(ssl);
        _options = _options with { IsTls = true };
        return true;
    }
}
