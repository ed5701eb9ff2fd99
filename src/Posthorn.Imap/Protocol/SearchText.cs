using System.Text;
using MimeKit;

namespace Posthorn.Imap;

/// <summary>The decoded From, To, Cc, Bcc and Subject fields of a message, as SEARCH FROM/TO/CC/BCC/SUBJECT match them
/// (RFC 9051 §6.4.4: the field contains the string, case-insensitively, after decoding), kept in the store's cache
/// (<see cref="ImapMessageCache.SearchFields"/>) so that a search over a large mailbox parses no message.</summary>
/// <remarks>A field is the decoded value (MimeKit's <see cref="Header.Value"/>: RFC 2047 encoded words decoded, folding
/// removed) of every occurrence, joined by a line feed, which a search string cannot hold in a quoted string.
/// Cached form: the five fields in UTF-8, separated by NUL (a NUL inside a value becomes a space).</remarks>
internal sealed class SearchText
{
    public enum Field { From, To, Cc, Bcc, Subject }

    private static readonly string[] Names = ["From", "To", "Cc", "Bcc", "Subject"];

    private readonly string[] _values;

    private SearchText(string[] values) => _values = values;

    public static Field FieldOf(string key) => key switch
    {
        "FROM" => Field.From,
        "TO" => Field.To,
        "CC" => Field.Cc,
        "BCC" => Field.Bcc,
        _ => Field.Subject,
    };

    public string this[Field f] => _values[(int)f];

    public bool Contains(Field f, string value) => _values[(int)f].Contains(value, StringComparison.OrdinalIgnoreCase);

    /// <summary>The fields of a parsed message (its top-level header).</summary>
    public static SearchText Of(ImapMessage m)
    {
        var values = new string[Names.Length];
        var parts = new List<string>[Names.Length];
        foreach (var h in m.Message.Headers)
        {
            int i = Array.FindIndex(Names, n => n.Equals(h.Field, StringComparison.OrdinalIgnoreCase));
            if (i >= 0) (parts[i] ??= []).Add(h.Value.Replace('\0', ' '));
        }
        for (int i = 0; i < values.Length; i++) values[i] = parts[i] is { } p ? string.Join('\n', p) : "";
        return new SearchText(values);
    }

    /// <summary>The cached form (see the remarks).</summary>
    public byte[] ToBytes() => Encoding.UTF8.GetBytes(string.Join('\0', _values));

    /// <summary>Reads the cached form; a value that does not have five fields gives empty ones.</summary>
    public static SearchText Parse(ReadOnlySpan<byte> cached)
    {
        var values = Encoding.UTF8.GetString(cached).Split('\0');
        if (values.Length != Names.Length) values = Enumerable.Repeat("", Names.Length).ToArray();
        return new SearchText(values);
    }
}
