using System.Globalization;
using System.Text;

namespace Posthorn.Mail.Delivery;

/// <summary>A pipe(8) master.cf row's command attributes: <c>flags=</c>, <c>user=</c>, <c>size=</c>, <c>eol=</c>,
/// <c>directory=</c>, <c>null_sender=</c> and <c>argv=</c> (the rest of the row).</summary>
/// <param name="Service">The master.cf service name, as in "delivered via NAME service".</param>
/// <param name="Flags">The flag letters (F, R, D, O, q, h, u, ., &gt;, B).</param>
/// <param name="User">user=: the account (optionally <c>user:group</c>) the command runs as when the daemon is root.</param>
/// <param name="Argv">The command and its arguments, before macro expansion.</param>
/// <remarks>Postfix pipe(8) "COMMAND ATTRIBUTE SYNTAX". DEVIATION: <c>chroot=</c> and other attribute names with
/// a value are accepted and ignored (Postfix knows chroot=; Posthorn does not chroot).</remarks>
public sealed record PipeOptions(string Service, string Flags, string? User, IReadOnlyList<string> Argv)
{
    /// <summary>size=: Postfix pipe(8) "Don't deliver messages that exceed this size limit (in bytes); return them
    /// to the sender instead." 0: no limit.</summary>
    public long SizeLimit { get; init; }

    /// <summary>eol=, unescaped: Postfix pipe(8) "The output record delimiter" (default <c>\n</c>).</summary>
    public string Eol { get; init; } = "\n";

    /// <summary>directory=: the command's working directory; null for the default, Postfix's $queue_directory.</summary>
    public string? Directory { get; init; }

    /// <summary>null_sender=: Postfix pipe(8) replaces the null sender with this text in ${sender}, the From_
    /// line and Return-Path: (default: MAILER-DAEMON; may be empty).</summary>
    public string NullSender { get; init; } = "MAILER-DAEMON";

    /// <summary>Parses the arguments of <c>name unix - n n - - pipe flags=… user=… argv=/path …</c>.</summary>
    /// <returns>False with Postfix's complaint when argv= is missing, an attribute is unknown or a value is bad.</returns>
    public static bool TryParse(string service, IReadOnlyList<string> args, out PipeOptions options, out string error)
    {
        options = new PipeOptions(service, "", null, []);
        error = "";
        string flags = "";
        string? user = null, directory = null;
        string eol = "\n", nullSender = "MAILER-DAEMON";
        long size = 0;
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a.StartsWith("argv=", StringComparison.Ordinal))
            {
                // Postfix pipe(8): "argv=command... (required) ... This attribute must be specified last."
                var argv = new List<string> { a[5..] };
                argv.AddRange(args.Skip(i + 1));
                if (argv[0].Length == 0) argv.RemoveAt(0);
                if (argv.Count == 0) break;
                options = new PipeOptions(service, flags, user, argv)
                {
                    SizeLimit = size, Eol = eol, Directory = directory, NullSender = nullSender,
                };
                return true;
            }
            int eq = a.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0) { error = $"unknown attribute name: {a}"; return false; }
            string value = a[(eq + 1)..];
            switch (a[..eq])
            {
                case "flags": flags = value; break;
                case "user": user = value; break;
                case "directory": directory = value; break;
                case "null_sender": nullSender = value; break;
                case "eol": eol = Unescape(value); break;
                case "size":
                    // Postfix pipe.c: "size=" must be a positive number of bytes.
                    if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size <= 0)
                    {
                        error = $"bad size limit: {a}";
                        return false;
                    }
                    break;
                default: break;   // chroot= and the like: see the DEVIATION above
            }
        }
        error = "missing argv= command-line attribute";
        return false;
    }

    public bool Has(char flag) => Flags.Contains(flag, StringComparison.Ordinal);

    /// <summary>Postfix pipe(8) eol=: "The usual C-style backslash escape sequences are recognized: \a \b \f \n \r \t
    /// \v \ddd (up to three octal digits) and \\." Any other escaped character stands for itself (Postfix unescape(3)).</summary>
    public static string Unescape(string text)
    {
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c != '\\' || i + 1 == text.Length) { sb.Append(c); continue; }
            char e = text[++i];
            switch (e)
            {
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'v': sb.Append('\v'); break;
                case >= '0' and <= '7':
                    int octal = e - '0';
                    for (int n = 1; n < 3 && i + 1 < text.Length && text[i + 1] is >= '0' and <= '7'; n++)
                        octal = octal * 8 + (text[++i] - '0');
                    sb.Append((char)(octal & 0xff));
                    break;
                default: sb.Append(e); break;
            }
        }
        return sb.ToString();
    }
}
