using System.Runtime.CompilerServices;
using System.Text;
using MimeKit;
using Posthorn.Imap;
using Xunit;

namespace Posthorn.Tests.Imap;

/// <summary>ImapMessage.Dispose takes the parsed MimeKit objects off the finalizer's list, so that a collection frees
/// them at once instead of keeping them (and all they reference) alive until the finalizer thread has run.</summary>
public sealed class ImapMessageDisposeTests
{
    private const string Nested =
        "From: a@example.org\r\nTo: b@example.org\r\nSubject: nested\r\nMIME-Version: 1.0\r\n" +
        "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n" +
        "--outer\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n" +
        "--outer\r\nContent-Type: message/rfc822\r\n\r\n" +
        "From: c@example.org\r\nSubject: inner\r\nContent-Type: text/plain\r\n\r\ninner body\r\n" +
        "--outer--\r\n";

    [Fact]
    public void A_disposed_message_and_all_its_parts_are_freed_by_one_collection()
    {
        var tracked = ParseAndDispose(Encoding.ASCII.GetBytes(Nested));
        Assert.True(tracked.Count >= 5, $"tracked {tracked.Count} objects");
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true);
        // A finalizable object is kept for its finalizer: a long weak reference still reaches it after this collection.
        Assert.All(tracked, w => Assert.False(w.IsAlive, $"{w.Target?.GetType().Name} waits for its finalizer"));
    }

    [Fact]
    public void A_message_never_parsed_disposes_without_parsing()
    {
        var message = new ImapMessage(Encoding.ASCII.GetBytes("Subject: x\n\nbody\n"));
        message.Dispose();
        Assert.True(message.TryGetSection("", out var whole));
        Assert.Equal("Subject: x\r\n\r\nbody\r\n", Encoding.ASCII.GetString(whole));
    }

    /// <summary>Long weak references (they follow an object into finalization) to the parsed message, every entity in it
    /// and every content.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static List<WeakReference> ParseAndDispose(byte[] raw)
    {
        var tracked = new List<WeakReference>();
        var message = new ImapMessage(raw);
        Track(message.Message, tracked);
        Assert.True(message.TryGetSection("2.HEADER", out var inner));
        Assert.Contains("Subject: inner", Encoding.ASCII.GetString(inner));
        message.Dispose();
        return tracked;
    }

    private static void Track(MimeMessage message, List<WeakReference> tracked)
    {
        tracked.Add(new WeakReference(message, trackResurrection: true));
        if (message.Body is { } body) Track(body, tracked);
    }

    private static void Track(MimeEntity entity, List<WeakReference> tracked)
    {
        tracked.Add(new WeakReference(entity, trackResurrection: true));
        switch (entity)
        {
            case Multipart multipart:
                foreach (var part in multipart) Track(part, tracked);
                break;
            case MessagePart { Message: { } embedded }:
                Track(embedded, tracked);
                break;
            case MimePart { Content: { } content }:
                tracked.Add(new WeakReference(content, trackResurrection: true));
                break;
        }
    }
}
