namespace Posthorn.Mua.Tui;

/// <summary>The screen of <see cref="ReaderController"/> as lines: mutt's layout of a help line,
/// the index or the pager, a status bar and the message/prompt line.</summary>
public sealed partial class ReaderController
{
    private const string IndexHelp = "q:Quit  x:Exit  d:Del  u:Undel  s:Save  m:Mail  r:Reply  g:Group  $:Sync  c:Folder  v:Attachment  T:Threads";
    private const string PagerHelp = "i:Exit  -:PrevPg  <Space>:NextPg  d:Del  u:Undel  s:Save  m:Mail  r:Reply  g:Group  v:Attachment";

    private List<string> _wrapped = [];
    private int _wrapWidth = -1;

    /// <summary>The pager lines wrapped at the last width drawn.</summary>
    private List<string> Wrapped => _wrapWidth < 0 ? _pager : _wrapped;

    /// <summary>Lays the screen out for <paramref name="width"/> × <paramref name="height"/> cells.</summary>
    public ReaderScreen Render(int width, int height)
    {
        width = Math.Max(width, 10);
        height = Math.Max(height, 4);
        PageRows = height - 3;
        var lines = new List<string>(height) { Fit(InPager ? PagerHelp : IndexHelp, width) };
        int highlight = -1;
        if (InPager)
        {
            Rewrap(width);
            _pagerTop = Math.Clamp(_pagerTop, 0, Math.Max(0, _wrapped.Count - 1));
            for (int i = 0; i < PageRows; i++)
                lines.Add(Fit(_pagerTop + i < _wrapped.Count ? _wrapped[_pagerTop + i] : "~", width));
            lines.Add(Fit(PagerStatus(), width));
        }
        else
        {
            // Keep the selection on the screen.
            if (Selected < _indexTop) _indexTop = Selected;
            if (Selected >= _indexTop + PageRows) _indexTop = Selected - PageRows + 1;
            for (int i = 0; i < PageRows; i++)
            {
                int n = _indexTop + i;
                lines.Add(Fit(n < View.Count ? IndexLine(View[n], n == Selected, _trees.GetValueOrDefault(View[n], "")) : "", width));
                if (n == Selected) highlight = lines.Count - 1;
            }
            lines.Add(Fit(IndexStatus(), width));
        }
        lines.Add(Fit(PromptLine ?? Message, width));
        return new ReaderScreen(lines, highlight, [0, height - 2]);
    }

    /// <summary>One index row: cursor, number, flags (N new, O old, D deleted, r replied), date, sender, size, subject.</summary>
    /// <param name="tree">the thread tree drawn before the subject (<see cref="MessageThreads"/>).</param>
    public static string IndexLine(MailboxEntry e, bool current, string tree = "")
    {
        char state = e.Deleted ? 'D' : e.State switch { MessageState.New => 'N', MessageState.Unread => 'O', _ => ' ' };
        char replied = e.Replied ? 'r' : ' ';
        string from = e.From.Length > 20 ? e.From[..20] : e.From;
        return MessageText.Clean($"{(current ? "->" : "  ")}{e.Number,4} {state}{replied} {e.Date,-16}  {from,-20} ({MessageText.SizeText(e.Size),5}) {tree}{e.Subject}");
    }

    private string IndexStatus()
    {
        int n = Box.Entries.Count;
        int fresh = Box.Entries.Count(e => e.State == MessageState.New && !e.Deleted);
        int old = Box.Entries.Count(e => e.State == MessageState.Unread && !e.Deleted);
        int del = Box.Entries.Count(e => e.Deleted);
        string counts = $"Msgs:{n}" + (fresh > 0 ? $" New:{fresh}" : "") + (old > 0 ? $" Old:{old}" : "") + (del > 0 ? $" Del:{del}" : "");
        return MessageText.Clean($"---Posthorn: {Box.Path} [{counts}]---");
    }

    private string PagerStatus()
    {
        if (Current is not { } e) return "";
        int total = Math.Max(1, _wrapped.Count);
        int shown = Math.Min(total, _pagerTop + PageRows);
        string where = shown >= total ? "end" : $"{shown * 100 / total}%";
        return MessageText.Clean($"-{(e.Deleted ? 'D' : '-')}{(e.Replied ? 'r' : '-')}- {e.Number}/{Box.Entries.Count}: {e.From}   {e.Subject}   -- ({where})");
    }

    private void Rewrap(int width)
    {
        if (_wrapWidth == width) return;
        _wrapWidth = width;
        _wrapped = [];
        foreach (string line in _pager)
        {
            // mutt marks a wrapped line with "+" at the start of its continuation.
            if (line.Length <= width) { _wrapped.Add(line); continue; }
            _wrapped.Add(line[..width]);
            for (int at = width; at < line.Length; at += width - 1)
                _wrapped.Add("+" + line.Substring(at, Math.Min(width - 1, line.Length - at)));
        }
    }

    private static string Fit(string s, int width) => s.Length > width ? s[..width] : s.PadRight(width);
}
