using System.Reflection;
using System.Text;
using MimeKit;
using Posthorn.Config;
using Posthorn.Imap;
using Posthorn.Mail.Delivery;
using Posthorn.Mail.Queue;
using Posthorn.Mua;
using Posthorn.Smtp;
using Posthorn.Store;

namespace Posthorn.Fuzz;

/// <summary>The fuzz targets: one entry point per parser that reads hostile input, fed raw bytes.</summary>
/// <remarks>
/// Shared by the SharpFuzz harness (fuzz/Posthorn.Fuzz, run under afl-fuzz by fuzz/run.sh) and by
/// <c>FuzzCorpusTests</c>, which replays the seed corpus and every saved crash through the same code.
/// A target catches only what its API documents as the answer to bad input (<see cref="ConfigException"/>,
/// <see cref="QueueFileCorruptException"/>, MimeKit's <see cref="FormatException"/>); anything else
/// escapes and is a finding. The harness sees only public API: the two internal entry points
/// (MaildirName) are bound once by reflection, because the harness assembly has no InternalsVisibleTo.
/// Targets that read files (queue file, mbox, main.cf) write the input into <see cref="Scratch"/> first.
/// </remarks>
public sealed partial class FuzzTargets
{
    private readonly Dictionary<string, Action<byte[]>> _targets;
    private readonly Func<string, (string, MessageFlags, string)> _maildirParse;
    private readonly Func<string, MessageFlags, string, string> _maildirFormat;
    private readonly HostInfo _host = new()
    {
        Fqdn = "mail.example.test",
        Interfaces = [],
        ResolveHost = _ => [System.Net.IPAddress.Loopback],
        LookupService = _ => 25,
    };

    /// <param name="scratch">A private directory for the targets that read files; it must exist.</param>
    public FuzzTargets(string scratch)
    {
        Scratch = scratch;
        _targets = new(StringComparer.Ordinal)
        {
            ["smtp-command"] = SmtpCommand,
            ["smtp-session"] = SmtpSession,
            ["imap-command"] = ImapCommand,
            ["imap-session"] = ImapSession,
            ["main-cf"] = MainCf,
            ["master-cf"] = MasterCf,
            ["aliases"] = Aliases,
            ["queue-file"] = QueueFileTarget,
            ["mbox"] = Mbox,
            ["maildir-name"] = MaildirNameTarget,
        };
        var type = typeof(MessageFlags).Assembly.GetType("Posthorn.Store.Maildir.MaildirName", throwOnError: true)!;
        _maildirParse = type.GetMethod("Parse", BindingFlags.Public | BindingFlags.Static)!
            .CreateDelegate<Func<string, (string, MessageFlags, string)>>();
        _maildirFormat = type.GetMethod("Format", BindingFlags.Public | BindingFlags.Static)!
            .CreateDelegate<Func<string, MessageFlags, string, string>>();
    }

    /// <summary>The target names, as fuzz/run.sh and the corpus directories spell them. Static and free of
    /// Posthorn code: under SharpFuzz no instrumented code may run before the fuzzing loop starts.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["smtp-command", "smtp-session", "imap-command", "imap-session", "main-cf", "master-cf", "aliases", "queue-file", "mbox", "maildir-name"];

    /// <summary>Where file-reading targets put their input.</summary>
    public string Scratch { get; }

    /// <summary>Runs target <paramref name="name"/> on <paramref name="data"/>; an exception that escapes is a finding.</summary>
    /// <exception cref="ArgumentException">No such target.</exception>
    public void Run(string name, byte[] data)
    {
        if (!_targets.TryGetValue(name, out var target)) throw new ArgumentException($"unknown fuzz target: {name}", nameof(name));
        target(data);
    }

    /// <summary>Input as text the way a configuration file is read: UTF-8, invalid bytes replaced.</summary>
    private static string Text(byte[] data) => Encoding.UTF8.GetString(data);

    /// <summary>SMTP command lines (one per LF): verb split, MAIL/RCPT paths and ESMTP parameters, HELO
    /// name clean-up, xtext (RFC 3461 §4) as the DSN parameters use it.</summary>
    private static void SmtpCommand(byte[] data)
    {
        foreach (var range in data.AsSpan().Split((byte)'\n'))
        {
            var line = data.AsSpan(range);
            if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
            var verb = SmtpCommandParser.ParseVerb(line, out ReadOnlySpan<byte> word, out ReadOnlySpan<byte> args);
            SmtpCommandParser.IsNonSmtpCommand(word);
            _ = SmtpCommandParser.Printable(line);
            foreach (bool strict in (ReadOnlySpan<bool>)[false, true])
            {
                List<SmtpParameter> parameters = [];
                if (verb == SmtpVerb.Mail) SmtpCommandParser.ParseMailFrom(args, strict, out _, out parameters);
                else if (verb == SmtpVerb.Rcpt) SmtpCommandParser.ParseRcptTo(args, strict, out _, out parameters);
                else SmtpCommandParser.TryParsePath(args, allowNullPath: true, strict, out _);
                foreach (var p in parameters)
                    if (p.Value is { } v && Xtext.TryDecode(v, out string decoded)) _ = Xtext.Encode(decoded);
            }
            if (verb is SmtpVerb.Helo or SmtpVerb.Ehlo)
            {
                _ = SmtpCommandParser.SanitizeHeloName(args);
                SmtpCommandParser.IsValidDomain(args);
            }
        }
    }

    /// <summary>One IMAP command as the session hands it over: lines with CRLF and literal octets inline.
    /// Also the literal announcement at the end of each line and sequence sets among the arguments.</summary>
    private static void ImapCommand(byte[] data)
    {
        foreach (var range in data.AsSpan().Split((byte)'\n'))
        {
            var line = data.AsSpan(range);
            if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
            ImapCommandParser.TryGetLiteralAtEnd(line, out _, out _);
        }
        if (!ImapCommandParser.TryParse(data, out var command, out _, out _)) return;
        Walk(command.Args, 0);

        static void Walk(IReadOnlyList<ImapToken> tokens, int depth)
        {
            foreach (var t in tokens)
            {
                _ = t.ToString();
                if (t.Kind == ImapTokenKind.List) Walk(t.Items, depth + 1);
                else if (SequenceSet.TryParse(t.Bytes.Span, out var set)) set.Contains(1, 10);
            }
        }
    }

    /// <summary>main.cf through the public loader: parsing, then $name expansion of every setting.</summary>
    private void MainCf(byte[] data)
    {
        string dir = Path.Combine(Scratch, "config");
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, "main.cf"), data);
        try
        {
            var snapshot = ConfigSnapshot.Load(dir, _host);
            _ = snapshot.Warnings;
        }
        catch (ConfigException)
        {
            // Documented: a line that cannot be parsed.
        }
    }

    /// <summary>master.cf text.</summary>
    private static void MasterCf(byte[] data)
    {
        try
        {
            foreach (var s in MasterConfig.Parse(Text(data), "master.cf").Services)
                _ = s.ToString();
        }
        catch (ConfigException)
        {
            // Documented: too few fields, an unknown type, a bad -o argument.
        }
    }

    /// <summary>aliases(5) text: errors are reported in <see cref="AliasFile.Errors"/>, never thrown.</summary>
    private static void Aliases(byte[] data)
    {
        var file = AliasFile.Parse(Text(data), "aliases");
        foreach (var e in file.Entries)
            if (e.Targets.Count == 0 || e.Name.Length == 0) throw new InvalidOperationException($"alias entry without name or targets, line {e.Line}");
    }

    /// <summary>A queue file: header, length checks and envelope records. (Not MarkDone: its fsync would cost
    /// more than the parse, and it reads the envelope with the same code.)</summary>
    private void QueueFileTarget(byte[] data)
    {
        string path = Path.Combine(Scratch, "queuefile");
        File.WriteAllBytes(path, data);
        try
        {
            var message = QueueFile.Read(path);
            foreach (var r in message.Envelope.Recipients)
                if (r.Address.Contains('\0')) throw new InvalidOperationException("recipient address with NUL");
        }
        catch (QueueFileCorruptException)
        {
            // Documented: the file does not follow the format.
        }
    }

    /// <summary>An mbox file as the mail client opens it: index, then load and copy each message.</summary>
    private void Mbox(byte[] data)
    {
        string path = Path.Combine(Scratch, "mbox");
        File.WriteAllBytes(path, data);
        try
        {
            var box = MboxMailbox.Open(path, new MboxFile.Locking(1, TimeSpan.Zero, TimeSpan.FromMinutes(5), TimeProvider.System, default));
            foreach (var e in box.Entries)
            {
                _ = box.FromLine(e);
                box.Load(e);
                using var copy = new MemoryStream();
                box.CopyAsMbox(e, copy);
            }
        }
        catch (FormatException)
        {
            // Documented by MimeKit's MimeParser: the data is not an mbox (no From_ marker where one is needed).
        }
    }

    /// <summary>Maildir file names, one per line: parse, format back, parse again (must round-trip).</summary>
    private void MaildirNameTarget(byte[] data)
    {
        foreach (string name in Text(data).Split('\n'))
        {
            var (b, flags, other) = _maildirParse(name);
            string formatted = _maildirFormat(b, flags, other);
            var again = _maildirParse(formatted);
            var sorted = other.ToCharArray();
            Array.Sort(sorted);
            if (again != (b, flags, new string(sorted)))
                throw new InvalidOperationException($"Maildir name does not round-trip: \"{name}\" -> \"{formatted}\"");
        }
    }
}
