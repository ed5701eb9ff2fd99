namespace Posthorn.Imap;

/// <summary>SPECIAL-USE attributes (RFC 6154 §2) of the folders mail clients create, by Maildir++ name.</summary>
/// <remarks>The names are the ones Thunderbird, Apple Mail, Outlook and Dovecot's default namespace use
/// (Dovecot assigns them in its config; Posthorn has a fixed table). Only top-level folders have one, and
/// the comparison ignores case. A folder the user renames loses its attribute with its name.</remarks>
public static class SpecialUse
{
    private static readonly Dictionary<string, string> ByName = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Sent"] = @"\Sent",
        ["Sent Messages"] = @"\Sent",
        ["Sent Items"] = @"\Sent",
        ["Drafts"] = @"\Drafts",
        ["Trash"] = @"\Trash",
        ["Deleted Messages"] = @"\Trash",
        ["Deleted Items"] = @"\Trash",
        ["Junk"] = @"\Junk",
        ["Spam"] = @"\Junk",
        ["Archive"] = @"\Archive",
        ["Archives"] = @"\Archive",
    };

    /// <summary>The attribute of a mailbox (IMAP name, "." delimited), or null.</summary>
    public static string? Of(string mailbox) => ByName.GetValueOrDefault(mailbox);
}
