namespace Posthorn.Config.Tables;

/// <summary>The rule list of a pattern table (cidr:, regexp:, pcre:): rules tried in file order, the first
/// match wins, and <c>if PATTERN</c> … <c>endif</c> blocks whose rules are tried only when PATTERN matches
/// (Postfix regexp_table(5), cidr_table(5)). A pattern written <c>!PATTERN</c> matches when PATTERN does not.</summary>
internal sealed class ConditionalRules<T>
{
    internal sealed record Rule(T Pattern, bool Negated, bool IsIf, string Result, int Line)
    {
        /// <summary>For an <c>if</c>: the index of the first rule after its <c>endif</c>.</summary>
        public int Skip { get; set; }
    }

    private readonly List<Rule> _rules = [];
    private readonly Stack<int> _open = new();

    public int Count => _rules.Count;

    public void Add(T pattern, bool negated, string result, int line) => _rules.Add(new(pattern, negated, false, result, line));

    public void BeginIf(T pattern, bool negated, int line)
    {
        _open.Push(_rules.Count);
        _rules.Add(new(pattern, negated, true, "", line) { Skip = int.MaxValue });
    }

    /// <summary>Closes the innermost <c>if</c>; false for an <c>endif</c> without one.</summary>
    public bool EndIf()
    {
        if (!_open.TryPop(out int at))
            return false;
        _rules[at].Skip = _rules.Count;
        return true;
    }

    /// <summary>The lines of <c>if</c>s still open at the end of the file (they extend to its end).</summary>
    public IEnumerable<int> Unclosed() => _open.Select(i => _rules[i].Line).Order();

    /// <summary>The first rule whose pattern matches (taking "!" into account), entering matching <c>if</c> blocks.
    /// A rule for which <paramref name="applies"/> is false never matches, negated or not, and an <c>if</c> of that
    /// kind skips its block (Postfix cidr_table(5): an IPv4 pattern says nothing about an IPv6 key).</summary>
    public Rule? FindFirst(Func<T, bool> matches, Func<T, bool>? applies = null)
    {
        for (int i = 0; i < _rules.Count; i++)
        {
            var r = _rules[i];
            bool hit = (applies is null || applies(r.Pattern)) && matches(r.Pattern) != r.Negated;
            if (r.IsIf)
            {
                if (!hit)
                    i = Math.Min(r.Skip, _rules.Count) - 1;
                continue;
            }
            if (hit)
                return r;
        }
        return null;
    }
}
