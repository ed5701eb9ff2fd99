using Posthorn.Mail.Delivery;

namespace Posthorn.Mua;

/// <summary>Hands a message to the mail system: the envelope sender (null: the invoking user),
/// the envelope recipients and the message (Unix line ends); returns sendmail(1)'s exit status.</summary>
public delegate int SubmitMessage(string? sender, IReadOnlyList<string> recipients, Stream message);

/// <summary>Everything <c>posthorn mail</c> takes from the outside: the invoking user, the mailbox
/// parameters from main.cf, the submission path, the streams and the clock. Tests pass their own.</summary>
/// <param name="UserName">the login name of the invoking user (real uid).</param>
/// <param name="IsRoot">whether <c>-u USER</c> is allowed.</param>
/// <param name="MailSpoolDirectory">postconf(5) mail_spool_directory; a trailing "/" means Maildir.</param>
/// <param name="HomeMailbox">postconf(5) home_mailbox; when set, the mailbox is HOME/home_mailbox.</param>
/// <param name="HomeOf">a user's home directory, or null when there is no such user.</param>
public sealed record MuaContext(
    string UserName,
    bool IsRoot,
    string MailSpoolDirectory,
    string HomeMailbox,
    Func<string, string?> HomeOf,
    SubmitMessage Submit,
    TextReader In,
    TextWriter Out,
    TextWriter Err,
    Func<Stream> OpenStdin,
    TimeProvider Clock)
{
    /// <summary>Postfix deliver_lock_attempts, deliver_lock_delay, stale_lock_time defaults.</summary>
    public MboxFile.Locking Locking { get; init; } = new(20, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(500), TimeProvider.System, CancellationToken.None);

    /// <summary>The environment (EDITOR, VISUAL, POSTHORN_IMAP_PASSWORD); none by default.</summary>
    public Func<string, string?> GetEnv { get; init; } = _ => null;

    /// <summary>The mailbox local(8) delivers to for <paramref name="user"/>, as local(8) chooses it
    /// (postconf(5) home_mailbox, mail_spool_directory); null when the user has no home.</summary>
    public string? MailboxOf(string user)
    {
        if (HomeMailbox.Length == 0) return Path.Combine(MailSpoolDirectory, user) + (MailSpoolDirectory.EndsWith('/') ? "/" : "");
        return HomeOf(user) is { } home ? Path.Combine(home, HomeMailbox) : null;
    }
}
