using Posthorn.Config;
using Posthorn.Config.Tables;

namespace Posthorn.Mail.Cleanup;

/// <summary>The content inspection tables of header_checks(5): header_checks, mime_header_checks,
/// nested_header_checks and body_checks, opened once per configuration snapshot.</summary>
/// <remarks>Postfix postconf(5): mime_header_checks and nested_header_checks default to $header_checks.
/// The tables are normally regexp: or pcre:, whose key is a whole logical header (folding newlines kept) or one
/// body line. A table that cannot be opened becomes a failing one, so mail is deferred rather than let through
/// unchecked. Parameters: header_checks, mime_header_checks, nested_header_checks, body_checks,
/// body_checks_size_limit.</remarks>
public sealed class ContentChecks
{
    public IReadOnlyList<ILookupTable> Header { get; init; } = [];
    public IReadOnlyList<ILookupTable> Mime { get; init; } = [];
    public IReadOnlyList<ILookupTable> Nested { get; init; } = [];
    public IReadOnlyList<ILookupTable> Body { get; init; } = [];
    /// <summary>body_checks_size_limit: only this many body bytes are inspected.</summary>
    public long BodySizeLimit { get; init; } = 51200;

    public bool IsEmpty => Header.Count == 0 && Mime.Count == 0 && Nested.Count == 0 && Body.Count == 0;

    /// <summary>Whether the body must be read line by line (body checks, or headers inside MIME parts).</summary>
    internal bool InspectsBody => Body.Count > 0 || Mime.Count > 0 || Nested.Count > 0;

    public static ContentChecks None { get; } = new();

    public static ContentChecks From(ConfigSnapshot cfg)
    {
        IReadOnlyList<ILookupTable> Maps(string p) =>
            [.. cfg.GetList(p).Select(spec => LookupTables.OpenOrFail(spec, cfg.TableOptions))];
        return new ContentChecks
        {
            Header = Maps("header_checks"),
            Mime = Maps("mime_header_checks"),
            Nested = Maps("nested_header_checks"),
            Body = Maps("body_checks"),
            BodySizeLimit = cfg.GetSize("body_checks_size_limit"),
        };
    }
}

/// <summary>What the SMTP server or an earlier stage asks cleanup to do with the message besides storing it:
/// access(5) PREPEND, REDIRECT, FILTER and HOLD results. Filled while the transaction runs; read when the header
/// section ends (PREPEND) and at commit (REDIRECT, FILTER).</summary>
public sealed class CleanupActions
{
    /// <summary>Header lines (<c>Name: value</c>, without line end) put before all other headers.</summary>
    public List<string> PrependHeaders { get; } = [];

    /// <summary>access(5)/header_checks(5) REDIRECT: every recipient is replaced by this address.</summary>
    public string? Redirect { get; set; }

    /// <summary>access(5)/header_checks(5) FILTER transport:destination: the content filter for this message
    /// (stored in the queue file as the <c>content_filter</c> attribute).</summary>
    public string? Filter { get; set; }

    /// <summary>access(5)/header_checks(5) HOLD: the message is committed into the hold queue, where it stays until
    /// <c>postsuper -H</c> releases it or <c>postsuper -d</c> deletes it.</summary>
    public bool Hold { get; set; }
}
