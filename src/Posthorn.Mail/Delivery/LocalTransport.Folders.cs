namespace Posthorn.Mail.Delivery;

/// <summary>Maildir++ folders chosen by the address extension (posthorn_maildir_extension_folders).</summary>
/// <remarks>
/// A Posthorn extension, as Dovecot's deliver/dovecot-lda does with <c>-m $EXTENSION</c>: mail for
/// <c>user+Sent</c> goes to the Maildir++ folder <c>Maildir/.Sent/</c>. Maildir++ keeps every folder
/// directly in the Maildir, named with a leading dot and "." between hierarchy levels
/// (<c>.lists.posthorn</c>). Only a folder that already exists is used, matched without regard to
/// case, so a sender cannot make folders appear by inventing extensions; anything else goes to the
/// inbox. A folder must be a real directory (not a symlink). Runs on the delivery thread as the recipient.
/// </remarks>
public sealed partial class LocalTransport
{
    /// <summary>The Maildir to deliver <paramref name="address"/> into: a Maildir++ folder of
    /// <paramref name="maildir"/> named by the extension, or <paramref name="maildir"/> itself.</summary>
    private string MaildirFolder(string maildir, string address)
    {
        if (!_o.MaildirExtensionFolders) return maildir;
        int at = address.LastIndexOf('@');
        var (_, extension) = SplitExtension(Unquote(at >= 0 ? address[..at] : address).ToLowerInvariant());
        if (extension is null || !IsFolderName(extension)) return maildir;
        string root = maildir.TrimEnd('/');
        string wanted = "." + extension;
        try
        {
            foreach (var dir in Directory.EnumerateFileSystemEntries(root, ".*"))
            {
                string name = Path.GetFileName(dir);
                if (name.Equals(wanted, StringComparison.OrdinalIgnoreCase)
                    && LibC.TryLstat(dir, out var st, out _) && st.IsDirectory)
                    return dir + "/";
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No readable Maildir yet: the inbox delivery creates it (or reports why it cannot).
        }
        return maildir;
    }

    /// <summary>A Maildir++ folder name: not empty, no "/", no leading, trailing or double ".",
    /// no control characters.</summary>
    private static bool IsFolderName(string s) =>
        s.Length > 0 && s[0] != '.' && s[^1] != '.' && !s.Contains("..", StringComparison.Ordinal)
        && !s.Contains('/') && !s.Any(char.IsControl);
}
