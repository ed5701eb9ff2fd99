using System.Text;

namespace Posthorn.Mail.Delivery;

/// <summary>Postfix local_expand(3): <c>$name</c> expansion of forward_path, mailbox_command,
/// luser_relay and command_execution_directory with the recipient's attributes.</summary>
/// <remarks>
/// Postfix local(8): the names are user, home, shell, recipient, extension, domain, local,
/// mailbox and recipient_delimiter (plus sender here). <c>$name</c>, <c>${name}</c> and
/// <c>$(name)</c> give the value, empty when undefined; <c>${name?text}</c> gives text when
/// name has a non-empty value and <c>${name:text}</c> when it has none (text is expanded too);
/// <c>$$</c> is a dollar. "Characters that may have special meaning to the shell or file system
/// are replaced by underscores": each value (not the template) passes through the filter.
/// </remarks>
internal static class LocalExpand
{
    /// <summary>Expands <paramref name="template"/>; false on bad syntax (an unclosed brace).</summary>
    public static bool TryExpand(string template, IReadOnlyDictionary<string, string?> attrs, string? filter, out string result)
    {
        var sb = new StringBuilder(template.Length);
        bool ok = Expand(template.AsSpan(), attrs, filter, sb);
        result = sb.ToString();
        return ok;
    }

    private static bool Expand(ReadOnlySpan<char> t, IReadOnlyDictionary<string, string?> attrs, string? filter, StringBuilder sb)
    {
        for (int i = 0; i < t.Length; i++)
        {
            char c = t[i];
            if (c != '$' || i + 1 == t.Length) { sb.Append(c); continue; }
            char next = t[i + 1];
            if (next == '$') { sb.Append('$'); i++; continue; }
            if (next is '{' or '(')
            {
                char close = next == '{' ? '}' : ')';
                int end = FindClose(t, i + 2, next, close);
                if (end < 0) return false;
                var inner = t[(i + 2)..end];
                int op = inner.IndexOfAny('?', ':');
                string name = (op < 0 ? inner : inner[..op]).ToString();
                string? value = attrs.TryGetValue(name, out var v) ? v : null;
                if (op < 0) Append(sb, value, filter);
                else if ((inner[op] == '?') == !string.IsNullOrEmpty(value) && !Expand(inner[(op + 1)..], attrs, filter, sb)) return false;
                i = end;
                continue;
            }
            int j = i + 1;
            while (j < t.Length && (char.IsAsciiLetterOrDigit(t[j]) || t[j] == '_')) j++;
            if (j == i + 1) { sb.Append(c); continue; }
            Append(sb, attrs.TryGetValue(t[(i + 1)..j].ToString(), out var plain) ? plain : null, filter);
            i = j - 1;
        }
        return true;
    }

    private static int FindClose(ReadOnlySpan<char> t, int from, char open, char close)
    {
        int depth = 1;
        for (int k = from; k < t.Length; k++)
        {
            if (t[k] == open) depth++;
            else if (t[k] == close && --depth == 0) return k;
        }
        return -1;
    }

    private static void Append(StringBuilder sb, string? value, string? filter)
    {
        if (string.IsNullOrEmpty(value)) return;
        foreach (char c in value) sb.Append(filter is null || filter.Contains(c) ? c : '_');
    }

    /// <summary>Replaces every character outside <paramref name="filter"/> with "_" (command_expansion_filter).</summary>
    public static string Censor(string value, string filter)
    {
        var sb = new StringBuilder(value.Length);
        foreach (char c in value) sb.Append(filter.Contains(c) ? c : '_');
        return sb.ToString();
    }
}
