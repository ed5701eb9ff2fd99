namespace Posthorn.Mua.Tui;

/// <summary>Keys that are not characters.</summary>
public enum ReaderKeyName { None, Enter, Up, Down, PageUp, PageDown, Home, End, Escape, Backspace }

/// <summary>One key press as the reader sees it: a character, or a named key.</summary>
public readonly record struct ReaderKey(char Char, ReaderKeyName Name = ReaderKeyName.None)
{
    public static ReaderKey Named(ReaderKeyName name) => new('\0', name);
    public static implicit operator ReaderKey(char c) => new(c);
}

/// <summary>What the runner must do after a key: keep going, end with an exit status, or run
/// $EDITOR on <see cref="EditPath"/> and then call <see cref="ReaderController.EditorFinished"/>.</summary>
public enum ReaderActionKind { Continue, Quit, Edit }

public readonly record struct ReaderAction(ReaderActionKind Kind, int ExitCode = 0, string? EditPath = null)
{
    public static readonly ReaderAction Continue = new(ReaderActionKind.Continue);
}

/// <summary>What the view draws: whole lines, and the row to show highlighted (-1: none).</summary>
/// <param name="BarRows">rows drawn as bars (the help line and the status line).</param>
public sealed record ReaderScreen(IReadOnlyList<string> Lines, int HighlightRow, IReadOnlyList<int> BarRows);
