namespace Posthorn.Smtp;

/// <summary>Postfix 3.9 smtpd_forbid_bare_newline: what the SMTP server does with a line that ends in LF alone
/// (the SMTP smuggling defence, CVE-2023-51764).</summary>
/// <remarks>postconf(5) smtpd_forbid_bare_newline. A client in smtpd_forbid_bare_newline_exclusions
/// (default $mynetworks) is always treated as <see cref="No"/> (<see cref="SmtpServerOptions.AllowBareLf"/>).</remarks>
public enum BareNewlineMode : byte
{
    /// <summary>The default (<c>normalize</c>, and its alias <c>yes</c>): "Require the standard End-of-DATA sequence
    /// &lt;CR&gt;&lt;LF&gt;.&lt;CR&gt;&lt;LF&gt;. Otherwise, allow command or message content lines ending in the
    /// non-standard &lt;LF&gt;, and process them as if the client sent the standard &lt;CR&gt;&lt;LF&gt;."</summary>
    Normalize,
    /// <summary><c>reject</c>: a command or message with a bare LF gets smtpd_forbid_bare_newline_reject_code
    /// (<c>550 5.5.2 … Error: bare &lt;LF&gt; received</c>; 521 also disconnects).</summary>
    Reject,
    /// <summary><c>no</c>: a bare LF is a line end everywhere, also in <c>&lt;LF&gt;.&lt;LF&gt;</c> (vulnerable to
    /// smuggling; what trusted local clients such as <c>nc</c> get).</summary>
    No,
}

/// <summary>Parses smtpd_forbid_bare_newline values.</summary>
public static class BareNewlineModes
{
    /// <summary>postconf(5): <c>normalize</c> (default), <c>yes</c> (same as normalize), <c>reject</c>, <c>no</c>,
    /// case-insensitive. False for anything else.</summary>
    public static bool TryParse(string value, out BareNewlineMode mode)
    {
        switch (value.Trim().ToLowerInvariant())
        {
            case "normalize" or "yes": mode = BareNewlineMode.Normalize; return true;
            case "reject": mode = BareNewlineMode.Reject; return true;
            case "no": mode = BareNewlineMode.No; return true;
            default: mode = BareNewlineMode.Normalize; return false;
        }
    }
}
