using Posthorn.Store;

namespace Posthorn.Imap;

/// <summary>Commands of the selected state (RFC 9051 §6.4) other than FETCH and SEARCH, and the
/// untagged updates that tell the client about other sessions' changes (RFC 9051 §7.5.1).</summary>
public sealed partial class ImapServerSession
{
    /// <summary>True while a command's store work runs as one unit (<see cref="IMailAccount.RunAsync{T}"/>): under imapd
    /// on the user's file thread, which must not wait for the network, so responses are only buffered meanwhile.</summary>
    private bool _inStoreUnit;

    /// <summary>Changes a command already took from the store inside its last unit (FETCH), for the updates after it.</summary>
    private MailboxChanges? _pendingChanges;

    /// <summary>Runs one command and the untagged updates after it. Its store work runs as one unit (one hop to the
    /// user's file thread instead of one per store call); FETCH makes one unit per batch, so that a client slow to read
    /// a large response never holds a file thread, and IDLE, which waits for the client, none.</summary>
    private async ValueTask<Result> RunCommandAsync(string tag, string name, IReadOnlyList<ImapToken> args, bool uid)
    {
        if (_account is null || name is "FETCH" or "IDLE" or "LOGOUT") return await ExecuteAndUpdateAsync(tag, name, args, uid);
        return await InStoreUnitAsync(() => ExecuteAndUpdateAsync(tag, name, args, uid));
    }

    private async ValueTask<Result> ExecuteAndUpdateAsync(string tag, string name, IReadOnlyList<ImapToken> args, bool uid)
    {
        Result result;
        try
        {
            result = await ExecuteAsync(tag, name, args, uid);
        }
        catch (CommandSyntaxException e)
        {
            result = Result.Bad(e.Message);
        }
        if (_box is not null && name != "LOGOUT") await SendUpdatesAsync(AllowsExpunge(name, uid));
        _pendingChanges = null;
        return result;
    }

    /// <summary>RFC 9051 §7.5.1: no EXPUNGE while answering FETCH, STORE or SEARCH (the UID forms may).</summary>
    private static bool AllowsExpunge(string name, bool uid) => uid || name is not ("FETCH" or "STORE" or "SEARCH");

    /// <summary>Runs <paramref name="work"/> as one store unit (see <see cref="_inStoreUnit"/>); in place inside one.</summary>
    private async ValueTask<T> InStoreUnitAsync<T>(Func<ValueTask<T>> work)
    {
        if (_inStoreUnit || _account is null) return await work();
        _inStoreUnit = true;
        try
        {
            return await _account.RunAsync(work, _ct);
        }
        finally
        {
            _inStoreUnit = false;
        }
    }

    /// <summary>Flushes when much output is buffered (back-pressure: a client that does not read stalls the session,
    /// not memory), except inside a store unit, which must not wait for the client.</summary>
    private async ValueTask FlushIfFullAsync()
    {
        if (!_inStoreUnit && _output.UnflushedBytes > 65536) await FlushAsync();
    }

    /// <summary>Sends EXPUNGE / EXISTS / FETCH FLAGS for what changed since the last look.</summary>
    private async ValueTask SendUpdatesAsync(bool allowExpunge)
    {
        var changes = _pendingChanges ?? await _box!.SyncAsync(allowExpunge, _ct);
        _pendingChanges = null;
        if (changes.IsEmpty) return;
        AnnounceExpunged(changes.Expunged, changes.ExpungedUids);
        if (changes.Exists != _announcedExists)
        {
            _w.Ascii($"* {changes.Exists} EXISTS").Crlf();
            _announcedExists = changes.Exists;
        }
        foreach (int i in changes.FlagsChanged)
        {
            var m = _box!.Messages[i];
            _w.Ascii($"* {i + 1} FETCH (UID {m.Uid} FLAGS {FormatFlags(m)}{ModSeqItem(m)})").Crlf();
        }
    }

    /// <summary>The view indexes a sequence set names, by sequence number or (UID commands) by UID.</summary>
    private List<int> Resolve(ImapToken set, bool uid)
    {
        if (set.Kind != ImapTokenKind.Atom || !SequenceSet.TryParse(set.Bytes.Span, out var seq))
            throw new CommandSyntaxException("Invalid sequence set.");
        return seq.Indexes(_box!.Messages, uid);
    }

    private async ValueTask<Result> CloseAsync(bool expunge)
    {
        // RFC 9051 §6.4.2: CLOSE expunges silently (not in a read-only mailbox); UNSELECT does not.
        if (expunge && !_box!.ReadOnly) await _box.ExpungeAsync(null, _ct);
        await _box!.DisposeAsync();
        _box = null;
        return Result.Ok(expunge ? "Close completed." : "Unselect completed.");
    }

    private async ValueTask<Result> ExpungeAsync(IReadOnlyList<ImapToken> args, bool uid)
    {
        if (_box!.ReadOnly) return Result.No("Mailbox is read-only.", "READ-ONLY");
        HashSet<uint>? uids = null;
        if (uid)
        {
            // RFC 4315 §2.1: UID EXPUNGE removes only the named \Deleted messages.
            if (args.Count != 1) return Result.Bad("Invalid arguments.");
            uids = Resolve(args[0], true).Select(i => _box.Messages[i].Uid).ToHashSet();
        }
        MessageInfo[] before = _qresync ? [.. _box.Messages] : [];
        var seqs = await _box.ExpungeAsync(uids, _ct);
        AnnounceExpunged(seqs, _qresync ? UidsAt(before, seqs) : []);
        return Result.Ok("Expunge completed.");
    }

    /// <summary>STORE set (+|-)FLAGS[.SILENT] flags (RFC 9051 §6.4.6).</summary>
    private async ValueTask<Result> StoreAsync(IReadOnlyList<ImapToken> args, bool uid)
    {
        if (args.Count < 3) return Result.Bad("Invalid arguments.");
        if (_box!.ReadOnly) return Result.No("Mailbox is read-only.", "READ-ONLY");
        var indexes = Resolve(args[0], uid);
        string? modified = null;
        if (args[1].Kind == ImapTokenKind.List)
        {
            // RFC 7162 §3.1.3: STORE set (UNCHANGEDSINCE modseq) …: messages changed since are left alone
            // and named in the MODIFIED response code.
            if (!TryParseModifier(args[1], "UNCHANGEDSINCE", out ulong unchanged)) return Result.Bad("Invalid STORE modifier.");
            _condstore = true;
            var skipped = indexes.Where(i => _box.Messages[i].ModSeq > unchanged).ToList();
            if (skipped.Count > 0)
            {
                modified = string.Join(',', skipped.Select(i => uid ? _box.Messages[i].Uid : (uint)(i + 1)));
                indexes = indexes.Except(skipped).ToList();
            }
            args = [args[0], .. args.Skip(2)];
            if (args.Count < 3) return Result.Bad("Invalid arguments.");
        }
        string item = args[1].Text.ToUpperInvariant();
        bool silent = item.EndsWith(".SILENT", StringComparison.Ordinal);
        if (silent) item = item[..^7];
        var op = item switch
        {
            "FLAGS" => FlagOperation.Replace,
            "+FLAGS" => FlagOperation.Add,
            "-FLAGS" => FlagOperation.Remove,
            _ => throw new CommandSyntaxException("Invalid STORE item."),
        };
        var flagTokens = args.Count == 3 && args[2].Kind == ImapTokenKind.List ? args[2].Items : args.Skip(2).ToList();
        var (flags, keywords) = ParseFlags(flagTokens);
        var changed = await _box.StoreFlagsAsync(indexes, op, flags, keywords, _ct);
        if (!silent)
        {
            foreach (var (i, m) in changed)
            {
                _w.Ascii($"* {i + 1} FETCH (");
                // RFC 7162 §3.2.4 (and Dovecot): once QRESYNC is enabled every untagged FETCH carries UID.
                if (uid || _qresync) _w.Ascii($"UID {m.Uid} ");
                _w.Ascii($"FLAGS {FormatFlags(m)}{ModSeqItem(m)})").Crlf();
            }
        }
        return modified is null ? Result.Ok("Store completed.") : Result.Ok("Conditional store failed.", "MODIFIED " + modified);
    }

    /// <summary>COPY / MOVE set mailbox (RFC 9051 §6.4.7–6.4.8, RFC 6851), with COPYUID (RFC 4315).</summary>
    private async ValueTask<Result> CopyAsync(IReadOnlyList<ImapToken> args, bool uid, bool move)
    {
        if (args.Count != 2) return Result.Bad("Invalid arguments.");
        if (move && _box!.ReadOnly) return Result.No("Mailbox is read-only.", "READ-ONLY");
        var indexes = Resolve(args[0], uid);
        string target = MailboxName(args[1]);
        if (indexes.Count == 0) return Result.Ok(move ? "No messages moved." : "No messages copied.");
        MessageInfo[] before = move && _qresync ? [.. _box!.Messages] : [];
        var (result, error) = await _box!.CopyAsync(indexes, target, move, _ct);
        if (error is not null) return Result.No(error.Text, error.Code);
        string copyUid = $"COPYUID {result!.UidValidity} {SequenceSet.Format(result.SourceUids)} {SequenceSet.Format(result.TargetUids)}";
        if (!move) return Result.Ok("Copy completed.", copyUid);
        // RFC 6851 §4.3: COPYUID goes in an untagged OK before the EXPUNGEs.
        _w.Ascii($"* OK [{copyUid}] Moved UIDs.").Crlf();
        AnnounceExpunged(result.Expunged, _qresync ? UidsAt(before, result.Expunged) : []);
        return Result.Ok("Move completed.");
    }

    /// <summary>IDLE (RFC 2177): updates are pushed every imapd_mailbox_check_interval until "DONE".</summary>
    private async ValueTask<Result> IdleAsync()
    {
        _w.Raw("+ idling"u8).Crlf();
        await FlushAsync();
        var done = ReadLineAsync().AsTask();
        while (true)
        {
            var tick = Task.Delay(_options.MailboxCheckInterval, _clock, _ct);
            if (await Task.WhenAny(done, tick) == done) break;
            await tick;
            if (_box is not null)
            {
                await SendUpdatesAsync(allowExpunge: true);
                await FlushAsync();
            }
        }
        var line = await done;
        if (line is null) throw new IOException("end of input during IDLE");
        if (!System.Text.Encoding.ASCII.GetString(line).Equals("DONE", StringComparison.OrdinalIgnoreCase))
            return Result.Bad("Expected DONE.");
        return Result.Ok("Idle completed.");
    }
}
