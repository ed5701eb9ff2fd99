using System.Diagnostics;
using Terminal.Gui.App;

namespace Posthorn.Mua.Tui;

/// <summary><c>posthorn mail --tui</c>: runs <see cref="ReaderController"/> full screen with Terminal.Gui.
/// Each $EDITOR run ends the Terminal.Gui session (the terminal is restored for the editor) and a new
/// one starts afterwards.</summary>
public static class TuiProgram
{
    public static int Run(Mailbox box, MuaContext ctx)
    {
        var controller = new ReaderController(box, ctx);
        while (true)
        {
            ReaderAction outcome;
            using (var app = Application.Create())
            {
                app.Init();
                using var view = new ReaderView(controller);
                app.Run(view);
                outcome = view.Outcome;
            }
            switch (outcome.Kind)
            {
                case ReaderActionKind.Edit:
                    int rc = RunEditor(controller.Editor, outcome.EditPath!, ctx);
                    var next = controller.EditorFinished(rc);
                    if (next.Kind == ReaderActionKind.Quit) return next.ExitCode;
                    continue;
                default:
                    return outcome.ExitCode;
            }
        }
    }

    /// <summary>Runs the editor command through /bin/sh, as mutt does, on the terminal; returns its exit status.</summary>
    private static int RunEditor(string editor, string path, MuaContext ctx)
    {
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(editor + " \"$1\"");
        psi.ArgumentList.Add("sh");
        psi.ArgumentList.Add(path);
        try
        {
            using var p = Process.Start(psi)!;
            p.WaitForExit();
            return p.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            ctx.Err.WriteLine($"mail: cannot run {editor}: {e.Message}");
            return 127;
        }
    }
}
