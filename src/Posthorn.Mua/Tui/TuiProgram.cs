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
        if (Console.IsInputRedirected || Console.IsOutputRedirected)
            return MailProgram.Fail(ctx, "--tui needs a terminal (standard input and output)");
        var controller = new ReaderController(box, ctx);
        var live = new LiveSession();
        using var watcher = box is ImapMailbox imap ? imap.Watch(live.Changed, live.Failed) : null;
        while (true)
        {
            ReaderAction outcome;
            using (var app = Application.Create())
            {
                app.Init();
                using var view = new ReaderView(controller);
                live.Attach(app, view, controller);
                try
                {
                    app.Run(view);
                }
                finally
                {
                    live.Detach();
                }
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

    /// <summary>Carries news from the IMAP watcher's thread to the UI thread of the current Terminal.Gui
    /// session; news that comes while the editor runs waits for the next session.</summary>
    private sealed class LiveSession
    {
        private readonly Lock _gate = new();
        private IApplication? _app;
        private ReaderView? _view;
        private ReaderController? _controller;
        private bool _changed;
        private string? _problem;

        public void Changed()
        {
            lock (_gate) _changed = true;
            Post();
        }

        public void Failed(string problem)
        {
            lock (_gate) _problem = problem;
            Post();
        }

        public void Attach(IApplication app, ReaderView view, ReaderController controller)
        {
            lock (_gate) (_app, _view, _controller) = (app, view, controller);
            Post();
        }

        public void Detach()
        {
            lock (_gate) (_app, _view, _controller) = (null, null, null);
        }

        private void Post()
        {
            IApplication? app;
            lock (_gate) app = _app;
            try
            {
                app?.Invoke(Apply);
            }
            catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
            {
                // The session ended meanwhile; the next Attach applies the news.
            }
        }

        /// <summary>On the UI thread: applies what arrived.</summary>
        private void Apply()
        {
            bool changed;
            string? problem;
            ReaderController? controller;
            ReaderView? view;
            lock (_gate)
            {
                (changed, problem, controller, view) = (_changed, _problem, _controller, _view);
                if (controller is null) return;
                (_changed, _problem) = (false, null);
            }
            if (changed) controller.MailboxChanged();
            if (problem is not null) controller.Notice(problem);
            view?.SetNeedsDraw();
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
