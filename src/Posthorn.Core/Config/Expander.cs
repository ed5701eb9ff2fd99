using System.Text;

namespace Posthorn.Config;

/// <summary>main.cf parameter expansion (Postfix mac_expand(3) as postconf(5) describes it).</summary>
/// <remarks>
/// Forms: <c>$name</c>, <c>${name}</c>, <c>$(name)</c>; <c>${name?value}</c> (value when $name is non-empty),
/// <c>${name:value}</c> (value when $name is empty); Postfix 3.0 <c>${name?{value}}</c>, <c>${name:{value}}</c>
/// and <c>${name?{value1}:{value2}}</c>; <c>$$</c> for a single '$'. Values are expanded recursively and
/// lazily; a reference to itself (directly or through others) is reported and expands to nothing instead of
/// recursing without end.
/// </remarks>
internal sealed class Expander(Func<string, string?> lookupRaw, Func<string, bool> isRaw, Action<string> warn)
{
    /// <summary>Postfix mac_expand(3): more nested expansions than this are "unreasonable macro call nesting"
    /// (a chain of $a -> $b -> … or ${x:${y:…}} deeper than this would otherwise exhaust the stack).</summary>
    internal const int MaxNesting = 100;

    /// <summary>Expands <paramref name="text"/>, the value of <paramref name="owner"/> (null for free text).</summary>
    public string Expand(string text, string? owner)
    {
        var stack = new List<string>();
        if (owner is not null)
            stack.Add(owner);
        return Expand(text, stack, 0);
    }

    /// <summary>The part of <paramref name="text"/> from a <c>${</c> or <c>$(</c> that is never closed, or null
    /// when every reference is complete (Postfix mac_expand "truncated macro reference").</summary>
    public static string? FindTruncated(string text)
    {
        for (int i = text.IndexOf('$'); i >= 0 && i + 1 < text.Length; i = text.IndexOf('$', i + 1))
        {
            char n = text[i + 1];
            if (n == '$')
                i++;
            else if (n is '{' or '(')
            {
                int close = MatchingClose(text, i + 1);
                if (close < 0)
                    return text[i..];
                if (FindTruncated(text.Substring(i + 2, close - i - 2)) is { } inner)
                    return inner;
                i = close;
            }
        }
        return null;
    }

    private string Expand(string text, List<string> stack, int depth)
    {
        if (!text.Contains('$'))
            return text;
        if (depth > MaxNesting)
        {
            warn($"unreasonable macro call nesting: \"{MainCf.Excerpt(text)}\"");
            return "";
        }
        var sb = new StringBuilder(text.Length);
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (c != '$' || i + 1 >= text.Length)
            {
                sb.Append(c);
                i++;
                continue;
            }
            char n = text[i + 1];
            if (n == '$')
            {
                sb.Append('$');
                i += 2;
            }
            else if (n is '{' or '(')
            {
                int close = MatchingClose(text, i + 1);
                if (close < 0)
                {
                    warn($"missing '{(n == '{' ? '}' : ')')}' in \"{text}\"");
                    sb.Append(text, i, text.Length - i);
                    break;
                }
                sb.Append(ExpandBraced(text.Substring(i + 2, close - i - 2), stack, depth));
                i = close + 1;
            }
            else if (IsNameChar(n))
            {
                int end = i + 1;
                while (end < text.Length && IsNameChar(text[end]))
                    end++;
                sb.Append(ValueOf(text[(i + 1)..end], stack, depth));
                i = end;
            }
            else
            {
                sb.Append('$');
                i++;
            }
        }
        return sb.ToString();
    }

    private string ExpandBraced(string inner, List<string> stack, int depth)
    {
        int end = 0;
        while (end < inner.Length && IsNameChar(inner[end]))
            end++;
        string name = inner[..end];
        if (end == inner.Length)
            return ValueOf(name, stack, depth);
        char op = inner[end];
        if (name.Length == 0 || op is not ('?' or ':'))
        {
            warn($"bad parameter expression: \"${{{inner}}}\"");
            return "";
        }
        string rest = inner[(end + 1)..];
        string then = rest, otherwise = "";
        // Postfix 3.0: ${name?{value}} and ${name?{value1}:{value2}}; white space around the braces is ignored.
        string t = rest.Trim();
        if (t.StartsWith('{'))
        {
            int close = MatchingClose(t, 0);
            if (close > 0)
            {
                string after = t[(close + 1)..].TrimStart();
                if (after.Length == 0)
                    then = t[1..close];
                else if (op == '?' && after[0] == ':' && after[1..].Trim() is { } alt && alt.StartsWith('{') && alt.EndsWith('}'))
                {
                    then = t[1..close];
                    otherwise = alt[1..^1];
                }
            }
        }
        // The test is on the parameter's value as written, as mac_expand does it.
        bool nonEmpty = (lookupRaw(name) ?? "").Length > 0;
        string chosen = op == '?' ? (nonEmpty ? then : otherwise) : (nonEmpty ? "" : then);
        return Expand(chosen, stack, depth + 1);
    }

    private string ValueOf(string name, List<string> stack, int depth)
    {
        string? raw = lookupRaw(name);
        if (raw is null)
        {
            warn($"undefined parameter: {name}");
            return "";
        }
        if (stack.Contains(name))
        {
            warn($"parameter {name}: unreasonable macro call nesting: {string.Join(" -> ", stack)} -> {name}");
            return "";
        }
        if (isRaw(name))
            return raw;
        stack.Add(name);
        string value = Expand(raw, stack, depth + 1);
        stack.RemoveAt(stack.Count - 1);
        return value;
    }

    /// <summary>The index of the bracket that closes the one at <paramref name="open"/>, or -1.</summary>
    internal static int MatchingClose(string text, int open)
    {
        char o = text[open], c = o == '(' ? ')' : '}';
        int depth = 0;
        for (int i = open; i < text.Length; i++)
        {
            if (text[i] == o)
                depth++;
            else if (text[i] == c && --depth == 0)
                return i;
        }
        return -1;
    }

    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';

    /// <summary>Names referenced by <c>$name</c> forms in <paramref name="text"/>, without expanding anything.</summary>
    internal static IEnumerable<string> References(string text)
    {
        for (int i = 0; i + 1 < text.Length; i++)
        {
            if (text[i] != '$')
                continue;
            if (text[i + 1] == '$')
            {
                i++;
                continue;
            }
            int start = text[i + 1] is '{' or '(' ? i + 2 : i + 1;
            int end = start;
            while (end < text.Length && IsNameChar(text[end]))
                end++;
            if (end > start)
                yield return text[start..end];
        }
    }
}
