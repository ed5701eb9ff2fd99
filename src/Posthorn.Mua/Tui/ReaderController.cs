using System.Text;
using MimeKit;

namespace Posthorn.Mua.Tui;

/// <summary>The full-screen reader without the screen: an index of the messages and a pager, driven
/// by mutt's keys, over a <see cref="Mailbox"/> (mbox, Maildir or IMAP). The Terminal.Gui view only
/// draws <see cref="Render"/> and passes keys to <see cref="Handle"/>; tests do the same without a terminal.</summary>
/// <remarks>
/// Index keys (mutt): j/k next/previous undeleted, Down/Up next/previous, Enter or Space opens the
/// pager, d delete, u undelete, r reply, g group reply, m mail, s save to an mbox file, v save an
/// attachment to a file, c change to another folder (IMAP: any LISTed mailbox; local: a path, or
/// +NAME for a Maildir++ folder), $ commit the deletions now, q commit and quit (mailx), x exit
/// without changes, T threads on/off, Home/End/PageUp/PageDown. After the editor: y send, n abort, a attach a file.
/// Pager keys: q or i back to the index, Enter/Down one line on, Up/Backspace one line back,
/// Space/PageDown a page on (at the end: the next message), -/PageUp a page back, j/k next/previous
/// message; d/u/r/g/m/s/v/c/$/x as in the index.
/// DEVIATION: mutt threads with "o t" ($sort=threads); here T toggles between threads and mailbox order.
/// DEVIATION: s keeps the message (mailx keepsave), where mutt marks it deleted.
/// DEVIATION: read state is not written back to an mbox or Maildir (as the line mode, see MboxMailbox).
/// </remarks>
public sealed partial class ReaderController
{
    private readonly MuaContext _ctx;
    private Prompt? _prompt;
    private List<string> _pager = [];
    private int _pagerTop, _indexTop;

    public ReaderController(Mailbox box, MuaContext ctx)
    {
        Box = box;
        _ctx = ctx;
        var first = box.Entries.FindIndex(e => e.State == MessageState.New);
        Selected = first >= 0 ? first : 0;
    }

    public Mailbox Box { get; private set; }
    /// <summary>Index into <see cref="Mailbox.Entries"/> of the current message.</summary>
    public int Selected { get; private set; }
    public bool InPager { get; private set; }
    /// <summary>The message line at the bottom (mutt's status messages); empty when there is none.</summary>
    public string Message { get; private set; } = "";
    /// <summary>Rows of content the last <see cref="Render"/> had room for (paging uses it).</summary>
    public int PageRows { get; private set; } = 20;
    public MailboxEntry? Current => Selected < View.Count ? View[Selected] : null;
    /// <summary>Whether the index shows threads (T).</summary>
    public bool Threaded { get; private set; }

    private List<MailboxEntry>? _threaded;
    private Dictionary<MailboxEntry, string> _trees = [];

    /// <summary>The index in the order shown: threaded, or the mailbox's own. <see cref="Selected"/> counts in it.</summary>
    public IReadOnlyList<MailboxEntry> View => _threaded ?? (IReadOnlyList<MailboxEntry>)Box.Entries;

    /// <summary>Lays the threads out again after the mailbox was read anew.</summary>
    private void Rethread()
    {
        if (!Threaded) { (_threaded, _trees) = (null, []); return; }
        var order = MessageThreads.Order(Box.Entries);
        _threaded = order.Select(o => o.Entry).ToList();
        _trees = order.ToDictionary(o => o.Entry, o => o.Tree);
    }

    /// <summary>T: threads on or off; the current message stays selected.</summary>
    private void ToggleThreads()
    {
        var current = Current;
        Threaded = !Threaded;
        Rethread();
        Selected = current is null ? 0 : Math.Max(0, View.ToList().IndexOf(current));
        Message = Threaded ? "Threads on (by References and In-Reply-To)." : "Threads off (mailbox order).";
    }

    /// <summary>The pager's lines (unwrapped) of the open message.</summary>
    public IReadOnlyList<string> PagerLines => _pager;

    /// <summary>A question on the bottom line; its answer goes to <see cref="Done"/>; Escape or Ctrl-G
    /// closes it, then <see cref="Cancel"/> runs when there is one.</summary>
    private sealed record Prompt(string Label, StringBuilder Text, Func<string, ReaderAction> Done, Func<ReaderAction>? Cancel = null);

    /// <summary>Acts on one key; returns what the runner must do next.</summary>
    public ReaderAction Handle(ReaderKey key)
    {
        if (_prompt is not null) return HandlePrompt(key);
        Message = "";
        return InPager ? HandlePager(key) : HandleIndex(key);
    }

    private ReaderAction HandleIndex(ReaderKey key)
    {
        switch (key.Name)
        {
            case ReaderKeyName.Down: Move(+1, skipDeleted: false); return ReaderAction.Continue;
            case ReaderKeyName.Up: Move(-1, skipDeleted: false); return ReaderAction.Continue;
            case ReaderKeyName.Enter: return Open();
            case ReaderKeyName.PageDown: MoveTo(Selected + PageRows); return ReaderAction.Continue;
            case ReaderKeyName.PageUp: MoveTo(Selected - PageRows); return ReaderAction.Continue;
            case ReaderKeyName.Home: MoveTo(0); return ReaderAction.Continue;
            case ReaderKeyName.End: MoveTo(View.Count - 1); return ReaderAction.Continue;
        }
        return key.Char switch
        {
            'j' => Then(() => Move(+1, skipDeleted: true)),
            'k' => Then(() => Move(-1, skipDeleted: true)),
            ' ' => Open(),
            'q' => Quit(),
            _ => Common(key.Char),
        };
    }

    private ReaderAction HandlePager(ReaderKey key)
    {
        switch (key.Name)
        {
            case ReaderKeyName.Enter or ReaderKeyName.Down: Scroll(1); return ReaderAction.Continue;
            case ReaderKeyName.Up or ReaderKeyName.Backspace: Scroll(-1); return ReaderAction.Continue;
            case ReaderKeyName.PageDown: return PageOn();
            case ReaderKeyName.PageUp: Scroll(-PageRows); return ReaderAction.Continue;
            case ReaderKeyName.Home: _pagerTop = 0; return ReaderAction.Continue;
            case ReaderKeyName.Escape: InPager = false; return ReaderAction.Continue;
        }
        switch (key.Char)
        {
            case 'q' or 'i': InPager = false; return ReaderAction.Continue;
            case ' ': return PageOn();
            case '-': Scroll(-PageRows); return ReaderAction.Continue;
            case 'j': return Step(+1);
            case 'k': return Step(-1);
            default: return Common(key.Char);
        }
    }

    /// <summary>The keys that mean the same in the index and the pager.</summary>
    private ReaderAction Common(char c) => c switch
    {
        'd' => Then(() => Mark(deleted: true)),
        'u' => Then(() => Mark(deleted: false)),
        'r' => Reply(all: false),
        'g' => Reply(all: true),
        'm' => Compose(),
        's' => Save(),
        'v' => SaveAttachment(),
        'c' => ChangeFolder(),
        '$' => Then(() => Sync()),
        'T' => Then(ToggleThreads),
        'x' => new ReaderAction(ReaderActionKind.Quit, 0),
        '\0' => ReaderAction.Continue,
        _ => Then(() => Message = "Key is not bound."),
    };

    private static ReaderAction Then(Action a)
    {
        a();
        return ReaderAction.Continue;
    }

    private void Move(int step, bool skipDeleted)
    {
        for (int i = Selected + step; i >= 0 && i < View.Count; i += step)
        {
            if (skipDeleted && View[i].Deleted) continue;
            Selected = i;
            return;
        }
        Message = step > 0 ? "You are on the last message." : "You are on the first message.";
    }

    private void MoveTo(int index) => Selected = Math.Clamp(index, 0, Math.Max(0, View.Count - 1));

    /// <summary>Opens the current message in the pager and marks it read.</summary>
    private ReaderAction Open()
    {
        if (Current is not { } e)
        {
            Message = "No messages.";
            return ReaderAction.Continue;
        }
        e.State = MessageState.Read;
        InPager = true;
        _pagerTop = 0;
        _wrapWidth = -1;
        _attachments = [];
        try
        {
            _pager = MessageText.Lines(Box.Load(e), _attachments);
        }
        catch (Exception ex) when (IsMailboxFailure(ex))
        {
            _pager = [$"[-- message {e.Number} cannot be read: {MessageText.Clean(ex.Message)} --]"];
        }
        return ReaderAction.Continue;
    }

    /// <summary>Pager j/k: the next or previous undeleted message.</summary>
    private ReaderAction Step(int step)
    {
        int before = Selected;
        Move(step, skipDeleted: true);
        return Selected == before ? ReaderAction.Continue : Open();
    }

    private ReaderAction PageOn()
    {
        if (_pagerTop + PageRows >= Wrapped.Count) return Step(+1);
        Scroll(PageRows);
        return ReaderAction.Continue;
    }

    private void Scroll(int lines) => _pagerTop = Math.Clamp(_pagerTop + lines, 0, Math.Max(0, Wrapped.Count - 1));

    /// <summary>d/u; then, as mutt's $resolve, the next undeleted message (shown, in the pager).</summary>
    private void Mark(bool deleted)
    {
        if (Current is not { } e) { Message = "No messages."; return; }
        e.Deleted = deleted;
        int before = Selected;
        for (int i = Selected + 1; i < View.Count; i++)
            if (!View[i].Deleted) { Selected = i; break; }
        if (InPager)
        {
            if (Selected != before) Open();
            else InPager = false;
        }
    }

    private ReaderAction HandlePrompt(ReaderKey key)
    {
        var p = _prompt!;
        switch (key.Name)
        {
            case ReaderKeyName.Enter:
                _prompt = null;
                return p.Done(p.Text.ToString());
            case ReaderKeyName.Escape:
                _prompt = null;
                Message = "";
                return p.Cancel?.Invoke() ?? ReaderAction.Continue;
            case ReaderKeyName.Backspace:
                if (p.Text.Length > 0) p.Text.Length--;
                return ReaderAction.Continue;
        }
        // Ctrl-G aborts a prompt in mutt.
        if (key.Char == '\a') { _prompt = null; return p.Cancel?.Invoke() ?? ReaderAction.Continue; }
        if (key.Char >= ' ') p.Text.Append(key.Char);
        return ReaderAction.Continue;
    }

    private ReaderAction Ask(string label, string initial, Func<string, ReaderAction> done, Func<ReaderAction>? cancel = null)
    {
        _prompt = new Prompt(label, new StringBuilder(initial), done, cancel);
        return ReaderAction.Continue;
    }

    /// <summary>The line the user is typing into, or null when no question is open.</summary>
    public string? PromptLine => _prompt is { } p ? p.Label + p.Text : null;
}
