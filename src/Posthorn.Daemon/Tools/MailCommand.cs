using Posthorn.Config;
using Posthorn.Daemon.Master;
using Posthorn.Mail.Delivery;
using Posthorn.Mail.Queue;
using Posthorn.Mua;

namespace Posthorn.Daemon.Tools;

/// <summary><c>posthorn mail</c> / <c>mailx</c>: reads main.cf (MAIL_CONFIG; mailx's -c is Cc:)
/// and runs <see cref="MailProgram"/>, submitting through <see cref="Sendmail"/> into maildrop.</summary>
internal static class MailCommand
{
    internal static int Run(string[] args, ToolContext ctx)
    {
        ConfigSnapshot cfg;
        try { cfg = ConfigSnapshot.Load(ctx.ConfigDirectory(null)); }
        catch (ConfigException e) { ctx.Err.WriteLine($"mail: fatal: {e.Message}"); return 1; }
        string queue = cfg.Get("queue_directory");
        var users = new PasswdUserDatabase();
        uint uid = UnixUser.RealUserId();
        string me = users.TryGetUserById((int)uid, out var self) ? self.Name : Environment.UserName;
        var mua = new MuaContext(
            me,
            IsRoot: uid == 0,
            cfg.Get("mail_spool_directory"),
            cfg.Get("home_mailbox"),
            name => users.TryGetUser(name, out var u) ? u.Home : null,
            (sender, rcpts, message) => Submit(ctx, queue, sender, rcpts, message),
            ctx.In, ctx.Out, ctx.Err, ctx.OpenStdin, ctx.Clock)
        {
            // Postfix defaults of deliver_lock_attempts, deliver_lock_delay, stale_lock_time (as local(8) uses them).
            Locking = new MboxFile.Locking(20, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(500), ctx.Clock, CancellationToken.None),
            GetEnv = ctx.GetEnv,   // EDITOR/VISUAL and POSTHORN_IMAP_PASSWORD for --tui/--imap
        };
        return MailProgram.Run(args, mua);
    }

    /// <summary>The sendmail(1) path: <c>sendmail -i [-f sender] -- rcpt…</c> with the message as its input,
    /// then wake pickup if the daemon runs (else the mail waits in maildrop).</summary>
    private static int Submit(ToolContext ctx, string queue, string? sender, IReadOnlyList<string> rcpts, Stream message)
    {
        var argv = new List<string> { "-i" };
        if (sender is not null) argv.AddRange(["-f", sender]);
        argv.Add("--");
        argv.AddRange(rcpts);
        var sub = new ToolContext { Out = ctx.Out, Err = ctx.Err, In = TextReader.Null, OpenStdin = () => new NonClosing(message), GetEnv = ctx.GetEnv, Clock = ctx.Clock };
        int rc = Sendmail.Run([.. argv], sub, queue);
        if (rc == 0) ControlChannel.SendAsync(queue, "pickup", CancellationToken.None).AsTask().Wait(2000);
        return rc;
    }

    /// <summary>Sendmail disposes its input; the caller owns the message stream.</summary>
    private sealed class NonClosing(Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => inner.ReadAsync(buffer, ct);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
