using Terminal.Gui.Drawing;
using Terminal.Gui.Drivers;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace Posthorn.Mua.Tui;

/// <summary>The Terminal.Gui view of the reader: draws <see cref="ReaderController.Render"/> and hands
/// every key to <see cref="ReaderController.Handle"/>. It holds no state of its own.</summary>
internal sealed class ReaderView : Runnable
{
    private readonly ReaderController _controller;

    public ReaderView(ReaderController controller)
    {
        _controller = controller;
        CanFocus = true;
        Width = Dim.Fill();
        Height = Dim.Fill();
    }

    /// <summary>Why the session stopped: quit, or run the editor.</summary>
    public ReaderAction Outcome { get; private set; } = new(ReaderActionKind.Quit);

    protected override bool OnDrawingContent(DrawContext? context)
    {
        var screen = _controller.Render(Viewport.Width, Viewport.Height);
        for (int row = 0; row < screen.Lines.Count && row < Viewport.Height; row++)
        {
            SetAttributeForRole(row == screen.HighlightRow || screen.BarRows.Contains(row) ? VisualRole.Focus : VisualRole.Normal);
            AddStr(0, row, screen.Lines[row]);
        }
        return true;
    }

    protected override bool OnKeyDown(Key key)
    {
        if (Translate(key) is not { } k) return false;
        var action = _controller.Handle(k);
        if (action.Kind != ReaderActionKind.Continue)
        {
            Outcome = action;
            App?.RequestStop();
        }
        SetNeedsDraw();
        return true;
    }

    private static ReaderKey? Translate(Key key)
    {
        var named = key.KeyCode switch
        {
            KeyCode.Enter => ReaderKeyName.Enter,
            KeyCode.CursorUp => ReaderKeyName.Up,
            KeyCode.CursorDown => ReaderKeyName.Down,
            KeyCode.PageUp => ReaderKeyName.PageUp,
            KeyCode.PageDown => ReaderKeyName.PageDown,
            KeyCode.Home => ReaderKeyName.Home,
            KeyCode.End => ReaderKeyName.End,
            KeyCode.Esc => ReaderKeyName.Escape,
            KeyCode.Backspace => ReaderKeyName.Backspace,
            _ => ReaderKeyName.None,
        };
        if (named != ReaderKeyName.None) return ReaderKey.Named(named);
        if (key.IsCtrl && key.NoCtrl.KeyCode == KeyCode.G) return new ReaderKey('\a');
        if (key.IsCtrl || key.IsAlt) return null;
        return key.AsRune is { Value: > 0 and < 0x10000 } r ? new ReaderKey((char)r.Value) : null;
    }
}
