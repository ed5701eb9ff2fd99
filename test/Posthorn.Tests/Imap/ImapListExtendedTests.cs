using MailKit;
using MailKit.Net.Imap;
using Xunit;

namespace Posthorn.Tests.Imap;

/// <summary>SPECIAL-USE (RFC 6154), LIST-EXTENDED (RFC 5258) and LIST-STATUS (RFC 5819).</summary>
public sealed class ImapListExtendedTests
{
    private static async Task<RawLine> LoginAsync(ImapTestServer server)
    {
        var raw = await RawLine.ConnectAsync(server.ImapPort);
        await raw.ReadLineAsync();
        Assert.StartsWith("a OK", (await CommandAsync(raw, "a LOGIN alice secret")).Last());
        return raw;
    }

    private static async Task<List<string>> CommandAsync(RawLine raw, string command)
    {
        string tag = command[..command.IndexOf(' ')];
        await raw.WriteAsync(command + "\r\n");
        var lines = new List<string>();
        string line;
        do
        {
            line = await raw.ReadLineAsync();
            lines.Add(line);
        } while (!line.StartsWith(tag + " ", StringComparison.Ordinal));
        return lines;
    }

    private static async Task CreateAsync(RawLine raw, params string[] names)
    {
        int n = 0;
        foreach (var name in names) Assert.StartsWith($"c{n} OK", (await CommandAsync(raw, $"c{n++} CREATE \"{name}\"")).Last());
    }

    [Fact]
    public async Task MailKit_finds_the_special_folders_by_their_attributes()
    {
        await using var server = new ImapTestServer();
        server.Deliver("x");
        using var client = new ImapClient();
        await client.ConnectAsync("127.0.0.1", server.ImapPort, MailKit.Security.SecureSocketOptions.None);
        await client.AuthenticateAsync("alice", "secret");
        Assert.True(client.Capabilities.HasFlag(ImapCapabilities.SpecialUse));
        var personal = client.GetFolder(client.PersonalNamespaces[0]);
        foreach (var name in new[] { "Sent", "Drafts", "Trash", "Spam", "Archive", "Projects" })
            await personal.CreateAsync(name, isMessageFolder: true);
        // MailKit reads the special-use attributes after login; reconnect so it sees the new folders.
        await client.DisconnectAsync(true);
        await client.ConnectAsync("127.0.0.1", server.ImapPort, MailKit.Security.SecureSocketOptions.None);
        await client.AuthenticateAsync("alice", "secret");
        Assert.Equal("Sent", client.GetFolder(SpecialFolder.Sent)?.FullName);
        Assert.Equal("Drafts", client.GetFolder(SpecialFolder.Drafts)?.FullName);
        Assert.Equal("Trash", client.GetFolder(SpecialFolder.Trash)?.FullName);
        Assert.Equal("Spam", client.GetFolder(SpecialFolder.Junk)?.FullName);
        Assert.Equal("Archive", client.GetFolder(SpecialFolder.Archive)?.FullName);
        await client.DisconnectAsync(true);
    }

    [Fact]
    public async Task Special_use_selection_and_return_options()
    {
        await using var server = new ImapTestServer();
        await using var raw = await LoginAsync(server);
        await CreateAsync(raw, "Sent Items", "Projects", "Projects.Trash");
        var special = await CommandAsync(raw, "b LIST (SPECIAL-USE) \"\" \"*\"");
        Assert.Equal(["* LIST (\\HasNoChildren \\Sent) \".\" \"Sent Items\"", "b OK LIST completed."], special);
        var ret = await CommandAsync(raw, "d LIST \"\" \"%\" RETURN (SPECIAL-USE)");
        Assert.Contains("* LIST (\\HasNoChildren \\Sent) \".\" \"Sent Items\"", ret);
        Assert.Contains("* LIST (\\HasChildren) \".\" Projects", ret);
        Assert.DoesNotContain(ret, l => l.Contains("Projects.Trash"));   // "%" stops at the delimiter
        // Only top-level folders are special: Projects.Trash is an ordinary folder.
        Assert.Contains("* LIST (\\HasNoChildren) \".\" Projects.Trash", await CommandAsync(raw, "e LIST \"\" \"*\""));
    }

    [Fact]
    public async Task Subscribed_selection_with_nonexistent_and_recursivematch()
    {
        await using var server = new ImapTestServer();
        await using var raw = await LoginAsync(server);
        await CreateAsync(raw, "Lists", "Lists.dev");
        await CommandAsync(raw, "s1 SUBSCRIBE Lists.dev");
        // RFC 9051 §6.3.7: a name may be subscribed that does not exist (any more).
        await CommandAsync(raw, "s2 SUBSCRIBE Gone");
        var subscribed = await CommandAsync(raw, "b LIST (SUBSCRIBED) \"\" \"*\"");
        Assert.Contains("* LIST (\\HasNoChildren \\Subscribed) \".\" Lists.dev", subscribed);
        Assert.Contains("* LIST (\\NonExistent \\Subscribed) \".\" Gone", subscribed);
        Assert.DoesNotContain(subscribed, l => l.Contains("\" Lists", StringComparison.Ordinal) && !l.Contains("Lists.dev"));
        var recursive = await CommandAsync(raw, "c LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"");
        Assert.Contains("* LIST (\\HasChildren) \".\" Lists (\"CHILDINFO\" (\"SUBSCRIBED\"))", recursive);
        Assert.StartsWith("d BAD", (await CommandAsync(raw, "d LIST (RECURSIVEMATCH) \"\" \"*\"")).Last());
        Assert.StartsWith("e BAD", (await CommandAsync(raw, "e LIST \"\" \"*\" RETURN (BOGUS)")).Last());
    }

    [Fact]
    public async Task Several_patterns_and_return_status()
    {
        await using var server = new ImapTestServer();
        server.Deliver("one");
        server.Deliver("two");
        await using var raw = await LoginAsync(server);
        await CreateAsync(raw, "Drafts", "Other");
        var lines = await CommandAsync(raw, "b LIST \"\" (INBOX Drafts) RETURN (STATUS (MESSAGES UNSEEN))");
        Assert.Equal([
            "* LIST (\\HasNoChildren) \".\" INBOX",
            "* STATUS INBOX (MESSAGES 2 UNSEEN 2)",
            "* LIST (\\HasNoChildren \\Drafts) \".\" Drafts",
            "* STATUS Drafts (MESSAGES 0 UNSEEN 0)",
            "b OK LIST completed."], lines);
    }
}
