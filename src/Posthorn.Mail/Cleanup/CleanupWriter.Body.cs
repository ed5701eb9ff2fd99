using System.Text;
using MimeKit;

namespace Posthorn.Mail.Cleanup;

/// <summary>The body, line by line, when body_checks, mime_header_checks or nested_header_checks need it:
/// multipart boundaries and attached messages are followed so that part headers go to mime_header_checks
/// (MIME headers) or nested_header_checks (headers of a message/rfc822 part), and every other line to
/// body_checks (Postfix mime_state(3), header_checks(5) "MIME PROCESSING").</summary>
/// <remarks>Only complete lines are inspected; a line longer than a write chunk passes through unchecked, as
/// do body lines after body_checks_size_limit bytes. Memory stays bounded: a part header is held only up to
/// header_size_limit bytes.</remarks>
public sealed partial class CleanupWriter
{
    private enum BodyState { Body, PartHeader, NestedHeader }

    private readonly Stack<string> _boundaries = new();
    private BodyState _bodyState;
    private ContentType? _partType;
    private HeaderField? _pendingPartHeader;
    private long _bodyChecked;
    private bool _midLine;

    /// <summary>Notes the boundary of a multipart type, so its parts are followed.</summary>
    private void EnterContent(ContentType? type)
    {
        if (type is { } t && t.MediaType.Equals("multipart", StringComparison.OrdinalIgnoreCase) && t.Boundary is { Length: > 0 } b)
            _boundaries.Push(b);
    }

    private static ContentType? ParseContentType(byte[] raw)
    {
        var field = new HeaderField("Content-Type", raw);
        return ContentType.TryParse(ParserOptions.Default, field.ValueBytes, out var type) ? type : null;
    }

    private async ValueTask WriteBodyCheckedAsync(ReadOnlyMemory<byte> lines, CancellationToken ct)
    {
        var output = new MemoryStream(lines.Length + 256);
        int pos = 0;
        while (pos < lines.Length && Rejection is null)
        {
            var rest = lines.Span[pos..];
            int nl = rest.IndexOf((byte)'\n');
            if (nl < 0)
            {
                // A piece of a very long line: passed on unchecked.
                output.Write(rest);
                _midLine = true;
                pos = lines.Length;
                break;
            }
            var line = rest[..(nl + 1)];
            pos += nl + 1;
            if (_midLine)
            {
                output.Write(line);
                _midLine = false;
                continue;
            }
            BodyLine(line, output);
        }
        if (Rejection is not null) return;
        await _inner.WriteAsync(output.GetBuffer().AsMemory(0, (int)output.Length), ct).ConfigureAwait(false);
    }

    private void BodyLine(ReadOnlySpan<byte> line, MemoryStream output)
    {
        if (_bodyState != BodyState.Body)
        {
            bool empty = line.SequenceEqual("\n"u8) || line.SequenceEqual("\r\n"u8);
            if (empty)
            {
                FlushPartHeader(output);
                var state = _bodyState;
                var type = _partType;
                _partType = null;
                // RFC 2046 §5.2.1: a message/rfc822 part holds a whole message, headers first.
                if (state == BodyState.PartHeader && type is { } t && t.IsMimeType("message", "rfc822"))
                {
                    _bodyState = BodyState.NestedHeader;
                }
                else
                {
                    EnterContent(type);
                    _bodyState = BodyState.Body;
                }
                output.Write(line);
                return;
            }
            if (line[0] is (byte)' ' or (byte)'\t' && _pendingPartHeader is { } pending
                && pending.Raw.Length + line.Length <= _options.HeaderSizeLimit)
            {
                pending.Raw = [.. pending.Raw, .. line];
                return;
            }
            FlushPartHeader(output);
            if (HeaderField.TryParseName(line, out string name))
            {
                _pendingPartHeader = new HeaderField(name, line.ToArray());
                return;
            }
            // Not a header: the part's header section ended without an empty line.
            EnterContent(_partType);
            _partType = null;
            _bodyState = BodyState.Body;
        }

        if (IsBoundary(line, out bool closing))
        {
            if (closing)
            {
                _boundaries.Pop();
            }
            else
            {
                _bodyState = BodyState.PartHeader;
                _partType = null;
            }
            output.Write(line);
            return;
        }

        var checks = _options.Checks;
        if (checks.Body.Count == 0 || _bodyChecked >= checks.BodySizeLimit)
        {
            output.Write(line);
            return;
        }
        _bodyChecked += line.Length;
        string text = Encoding.UTF8.GetString(line).TrimEnd('\n').TrimEnd('\r');
        var prepends = new List<string>();
        var edit = Check(checks.Body, "body_checks", "body", text, prepends, out string? replacement);
        foreach (string p in prepends) WriteLine(output, p);
        if (edit == Edit.Drop) return;
        if (edit == Edit.Replace) WriteLine(output, replacement!);
        else output.Write(line);
    }

    /// <summary>Checks and writes a held part header: MIME headers with mime_header_checks, the other headers of
    /// an attached message with nested_header_checks.</summary>
    private void FlushPartHeader(MemoryStream output)
    {
        if (_pendingPartHeader is not { } header) return;
        _pendingPartHeader = null;
        if (header.Is("Content-Type")) _partType = ParseContentType(header.Raw);
        var checks = _options.Checks;
        var (tables, mapName) = IsMimeHeader(header.Name) ? (checks.Mime, "mime_header_checks")
            : _bodyState == BodyState.NestedHeader ? (checks.Nested, "nested_header_checks")
            : ([], "");
        var prepends = new List<string>();
        var edit = Check(tables, mapName, "header", CheckText(header.Raw), prepends, out string? replacement);
        foreach (string p in prepends) WriteLine(output, p);
        if (edit == Edit.Drop) return;
        if (edit == Edit.Replace) WriteLine(output, replacement!);
        else output.Write(header.Raw);
    }

    /// <summary>RFC 2046 §5.1.1: "--" boundary, optionally followed by "--" (the close) and white space.
    /// Any enclosing boundary also ends the inner parts.</summary>
    private bool IsBoundary(ReadOnlySpan<byte> line, out bool closing)
    {
        closing = false;
        if (_boundaries.Count == 0 || line.Length < 3 || line[0] != '-' || line[1] != '-') return false;
        var rest = line[2..];
        while (rest.Length > 0 && rest[^1] is (byte)'\n' or (byte)'\r' or (byte)' ' or (byte)'\t') rest = rest[..^1];
        int depth = 0;
        foreach (string b in _boundaries)
        {
            var bytes = Encoding.ASCII.GetBytes(b);
            if (rest.StartsWith(bytes))
            {
                var tail = rest[bytes.Length..];
                if (tail.Length == 0 || tail.SequenceEqual("--"u8))
                {
                    // An outer boundary closes every part opened inside it.
                    for (int i = 0; i < depth; i++) _boundaries.Pop();
                    closing = tail.Length == 2;
                    return true;
                }
            }
            depth++;
        }
        return false;
    }

    private static void WriteLine(MemoryStream output, string text) => output.Write(Encoding.UTF8.GetBytes(text + "\n"));
}
