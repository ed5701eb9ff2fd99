using System.Buffers;
using System.Security.Cryptography;
using Posthorn.Store.Maildir;

namespace Posthorn.Store.Mbox;

/// <summary>Turns the stored lines of one mbox message (after its From_ line) into the message IMAP
/// and POP3 serve, line by line, so that scanning (size, key, flags) and reading agree byte for byte.</summary>
/// <remarks>
/// What is served: the header without the headers mail readers keep their state in (Status, X-Status,
/// X-Keywords, X-UID, X-IMAPbase, X-IMAP, Content-Length, Lines — the ones mutt and Dovecot rewrite, so
/// that a flag change by mutt or by us never changes a message's content, RFC 9051 §2.3.1.1 requires
/// it immutable for its UID); the body with ">From " unquoted; the blank line that ends an mbox
/// message (Postfix MAIL_COPY_BLANK) dropped.
/// DEVIATION: Postfix and MboxFile write the mboxo form (RFC 4155 §2: only "From " gets a "&gt;"), so an
/// original line ">From " cannot be told from a quoted one; like other mboxo readers we unquote it too.
/// The key is a SHA-256 of the From_ line and the served header lines: what identifies a message
/// when another program has rewritten the file and offsets moved.
/// </remarks>
internal sealed class MboxMessageFilter : IDisposable
{
    private static readonly string[] Hidden = ["status", "x-status", "x-keywords", "x-uid", "x-imapbase", "x-imap", "content-length", "lines"];

    /// <summary>RFC 9051 §9 atom-specials and what is not printable ASCII.</summary>
    private static readonly SearchValues<byte> NotAtom = SearchValues.Create(
        [.. "(){%*\"\\]"u8, .. Enumerable.Range(0, 33).Select(b => (byte)b), .. Enumerable.Range(127, 129).Select(b => (byte)b)]);

    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly Action<ReadOnlySpan<byte>>? _emit;
    private bool _inHeader = true;
    private bool _hiddenLine;
    private bool _keywordsLine;
    private readonly List<string> _keywords = [];
    private byte[]? _pendingBlank;
    private byte _prev;

    /// <param name="emit">receives the served bytes; null to only count them.</param>
    public MboxMessageFilter(ReadOnlySpan<byte> fromLine, Action<ReadOnlySpan<byte>>? emit)
    {
        _emit = emit;
        _hash.AppendData(fromLine);
    }

    /// <summary>Flags from Status/X-Status (mutt and Dovecot letters).</summary>
    public MessageFlags Flags { get; private set; }

    /// <summary>IMAP keywords from X-Keywords (Dovecot's mbox header: names separated by spaces, possibly folded).</summary>
    public IReadOnlyList<string> Keywords => _keywords;

    /// <summary>Status: O (mutt's "old"): kept through a rewrite, not an IMAP flag.</summary>
    public bool Old { get; private set; }

    /// <summary>RFC822.SIZE of what is served: octets with every bare LF counted as CRLF.</summary>
    public long Size { get; private set; }

    /// <summary>A piece of a line: whole lines up to the reader's buffer size, longer ones in parts.</summary>
    public void Line(ReadOnlySpan<byte> piece, bool lineStart, bool lineEnd)
    {
        if (_inHeader)
        {
            if (lineStart)
            {
                if (IsBlank(piece, lineEnd))
                {
                    _inHeader = false;
                    Emit(piece);
                    return;
                }
                bool continuation = piece.Length > 0 && piece[0] is (byte)' ' or (byte)'\t';
                if (!continuation)
                {
                    _hiddenLine = IsHidden(piece);
                    _keywordsLine = false;
                    if (_hiddenLine) ReadStatus(piece);
                }
                else if (_keywordsLine)
                {
                    AddKeywords(piece);   // RFC 5322 §2.2.3: a folded X-Keywords goes on here
                }
            }
            if (_hiddenLine) return;
            _hash.AppendData(piece);
            Emit(piece);
            return;
        }
        if (lineStart && IsBlank(piece, lineEnd))
        {
            if (_pendingBlank is not null) Emit(_pendingBlank);
            _pendingBlank = piece.ToArray();
            return;
        }
        if (_pendingBlank is not null)
        {
            Emit(_pendingBlank);
            _pendingBlank = null;
        }
        // RFC 4155 §2 (mboxo, as Postfix mail_copy.c writes it): ">From " is a quoted "From ".
        if (lineStart && piece.StartsWith(">From "u8)) piece = piece[1..];
        Emit(piece);
    }

    /// <summary>The hex key of the message (see remarks); the trailing blank line is dropped.</summary>
    public string Finish()
    {
        _pendingBlank = null;
        return Convert.ToHexString(_hash.GetHashAndReset(), 0, 16);
    }

    private void Emit(ReadOnlySpan<byte> bytes)
    {
        Size += MaildirName.CrlfSize(bytes, ref _prev);
        _emit?.Invoke(bytes);
    }

    private static bool IsBlank(ReadOnlySpan<byte> piece, bool lineEnd) =>
        lineEnd && (piece.SequenceEqual("\n"u8) || piece.SequenceEqual("\r\n"u8));

    internal static bool IsHidden(ReadOnlySpan<byte> line)
    {
        int colon = line.IndexOf((byte)':');
        if (colon <= 0 || colon > 20) return false;
        var name = line[..colon].TrimEnd(" \t"u8);
        foreach (var h in Hidden)
            if (System.Text.Ascii.EqualsIgnoreCase(name, h)) return true;
        return false;
    }

    /// <summary>mutt parse.c / Dovecot mbox: Status: R = read (\Seen), O = old; X-Status: A = \Answered,
    /// F = \Flagged, T = \Draft, D = \Deleted; X-Keywords: the IMAP keywords (Dovecot mbox-sync).</summary>
    private void ReadStatus(ReadOnlySpan<byte> line)
    {
        int colon = line.IndexOf((byte)':');
        var name = line[..colon].TrimEnd(" \t"u8);
        var value = line[(colon + 1)..];
        if (System.Text.Ascii.EqualsIgnoreCase(name, "x-keywords"u8))
        {
            _keywordsLine = true;
            AddKeywords(value);
        }
        else if (System.Text.Ascii.EqualsIgnoreCase(name, "status"u8))
        {
            foreach (byte b in value)
            {
                if (b == 'R') Flags |= MessageFlags.Seen;
                else if (b == 'O') Old = true;
            }
        }
        else if (System.Text.Ascii.EqualsIgnoreCase(name, "x-status"u8))
        {
            foreach (byte b in value)
            {
                Flags |= b switch
                {
                    (byte)'A' => MessageFlags.Answered,
                    (byte)'F' => MessageFlags.Flagged,
                    (byte)'T' => MessageFlags.Draft,
                    (byte)'D' => MessageFlags.Deleted,
                    _ => MessageFlags.None,
                };
            }
        }
    }

    /// <summary>Adds the space-separated names of an X-Keywords value (or continuation line), once each.</summary>
    private void AddKeywords(ReadOnlySpan<byte> value)
    {
        foreach (var range in value.SplitAny(" \t\r\n"u8))
        {
            var word = value[range];
            // RFC 9051 §9: flag-keyword = atom; anything else (a "\Seen", a parenthesis, 8-bit) would break a FLAGS reply.
            if (word.Length == 0 || word.IndexOfAny(NotAtom) >= 0) continue;
            string k = System.Text.Encoding.ASCII.GetString(word);
            if (!_keywords.Contains(k, StringComparer.OrdinalIgnoreCase)) _keywords.Add(k);
        }
    }

    /// <summary>The Status/X-Status lines for <paramref name="flags"/> and the X-Keywords line for
    /// <paramref name="keywords"/> (Dovecot's mbox form: one line, names separated by a space), or "" when
    /// there is nothing to say.</summary>
    public static string StatusLines(MessageFlags flags, bool old, IReadOnlyList<string> keywords)
    {
        string status = (flags.HasFlag(MessageFlags.Seen) ? "R" : "") + (old ? "O" : "");
        string x = (flags.HasFlag(MessageFlags.Answered) ? "A" : "") + (flags.HasFlag(MessageFlags.Flagged) ? "F" : "")
            + (flags.HasFlag(MessageFlags.Draft) ? "T" : "") + (flags.HasFlag(MessageFlags.Deleted) ? "D" : "");
        return (status.Length > 0 ? $"Status: {status}\n" : "") + (x.Length > 0 ? $"X-Status: {x}\n" : "")
            + (keywords.Count > 0 ? $"X-Keywords: {string.Join(' ', keywords)}\n" : "");
    }

    /// <summary>Whether two keyword lists name the same keywords (RFC 9051 §2.3.2: compared case-insensitively).</summary>
    public static bool SameKeywords(IReadOnlyList<string> a, IReadOnlyList<string> b) =>
        a.Count == b.Count && a.All(k => b.Contains(k, StringComparer.OrdinalIgnoreCase));

    public void Dispose() => _hash.Dispose();
}
