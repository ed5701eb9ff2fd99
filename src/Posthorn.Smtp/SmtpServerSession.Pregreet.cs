using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Posthorn.Core;

namespace Posthorn.Smtp;

/// <summary>What smtpd does with a client that talks before the 220 banner (Posthorn's posthorn_pregreet_action,
/// modelled on postscreen(8) postscreen_greet_action).</summary>
public enum PregreetAction : byte
{
    /// <summary>postscreen(8) "ignore": log the PREGREET line and serve the client as usual.</summary>
    Ignore,
    /// <summary>postscreen(8) "enforce": send the banner, then refuse every command but QUIT with
    /// <c>550 5.5.1 Protocol error</c> (and log each refusal).</summary>
    Enforce,
    /// <summary>postscreen(8) "drop": "Drop the connection immediately with a 521 SMTP reply".</summary>
    Drop,
}

/// <summary>Parses posthorn_pregreet_action values.</summary>
public static class PregreetActions
{
    /// <summary><c>ignore</c> (default), <c>enforce</c>, <c>drop</c>, case-insensitive; false (and ignore) otherwise.</summary>
    public static bool TryParse(string value, out PregreetAction action)
    {
        switch (value.Trim().ToLowerInvariant())
        {
            case "ignore": action = PregreetAction.Ignore; return true;
            case "enforce": action = PregreetAction.Enforce; return true;
            case "drop": action = PregreetAction.Drop; return true;
            default: action = PregreetAction.Ignore; return false;
        }
    }
}

/// <summary>The pre-greet check, before the 220 banner.</summary>
public sealed partial class SmtpServerSession
{
    /// <summary>postscreen(8) text for a pre-greet talker under "enforce" and "drop".</summary>
    internal static readonly SmtpReply PregreetProtocolError = new(550, "5.5.1", "Protocol error");

    /// <summary>posthorn_pregreet_action.</summary>
    public PregreetAction PregreetAction { get; init; }

    /// <summary>posthorn_pregreet_wait: how long to watch for client bytes before the banner goes out (0: no wait;
    /// only what has already arrived counts, see <see cref="PendingInput"/>).</summary>
    public TimeSpan PregreetWait { get; init; }

    /// <summary>How many bytes the client has sent that nobody has read yet (the daemon gives Socket.Available);
    /// null when unknown, which with a zero wait skips the check.</summary>
    public Func<int>? PendingInput { get; init; }

    /// <summary>The client talked first and the action is "enforce".</summary>
    private bool _pregreetEnforced;

    /// <summary>Looks for client bytes before the banner. Logs postscreen's
    /// <c>PREGREET N after S.SS from [addr]:port: TEXT</c> and applies <see cref="PregreetAction"/>.</summary>
    /// <returns>False when the connection is dropped (no banner is sent).</returns>
    private async ValueTask<bool> PregreetAsync()
    {
        bool waiting = PregreetWait > TimeSpan.Zero;
        if (!waiting && (PendingInput?.Invoke() ?? 0) <= 0) return true;
        long start = _clock.GetTimestamp();
        ReadResult result;
        // CancelPendingRead, not a cancelled token: the stream read stays pending and nothing is lost.
        using (var timer = waiting
            ? _clock.CreateTimer(static s => ((PipeReader)s!).CancelPendingRead(), _input, PregreetWait, Timeout.InfiniteTimeSpan)
            : null)
        {
            result = await _input.ReadAsync(_ct);
        }
        var buffer = result.Buffer;
        long length = buffer.Length;
        var text = buffer.Slice(0, Math.Min(length, 100)).ToArray();
        _input.AdvanceTo(buffer.Start, buffer.Start);   // nothing consumed: the commands are read as usual later
        if (length == 0) return true;

        double seconds = _clock.GetElapsedTime(start).TotalSeconds;
        // postscreen(8): "PREGREET 11 after 0.01 from [192.0.2.1]:12345: EHLO foo\r\n".
        // DEVIATION: logged by smtpd under the program name postscreen, so postscreen log filters match.
        _log.Info("postscreen", string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"PREGREET {length} after {seconds:0.00} from [{_info.AddressText}]:{_info.Client.Port}: {Escape(text)}"));
        switch (PregreetAction)
        {
            case PregreetAction.Drop:
                // postscreen(8) drop: "Drop the connection immediately with a 521 SMTP reply."
                await ReplyAsync(new SmtpReply(521, "5.5.1", "Protocol error"));
                _hangup = true;
                return false;
            case PregreetAction.Enforce:
                _pregreetEnforced = true;
                return true;
            default:
                return true;
        }
    }

    /// <summary>postscreen's rendering of the talk: CR and LF as <c>\r</c> <c>\n</c>, other controls as <c>?</c>.</summary>
    private static string Escape(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length + 8);
        foreach (byte b in bytes)
        {
            sb.Append(b switch
            {
                (byte)'\r' => "\\r",
                (byte)'\n' => "\\n",
                < 0x20 or >= 0x7f => "?",
                _ => ((char)b).ToString(),
            });
        }
        return sb.ToString();
    }

    /// <summary>Under "enforce", every command but QUIT gets <c>550 5.5.1 Protocol error</c>, logged as a reject.</summary>
    private async ValueTask<bool> RefusePregreeterAsync(SmtpVerb verb)
    {
        if (!_pregreetEnforced || verb == SmtpVerb.Quit) return false;
        LogReject(PregreetProtocolError, _tx?.Sender, null);
        _counters.Record(verb, ok: false);
        await ReplyAsync(PregreetProtocolError);
        return true;
    }
}
