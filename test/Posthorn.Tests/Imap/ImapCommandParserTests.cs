using System.Text;
using Posthorn.Imap;
using Xunit;

namespace Posthorn.Tests.Imap;

public sealed class ImapCommandParserTests
{
    private static ImapCommand Parse(string s)
    {
        Assert.True(ImapCommandParser.TryParse(Encoding.UTF8.GetBytes(s), out var cmd, out _, out string error), error);
        return cmd;
    }

    [Fact]
    public void Tag_command_atoms_and_quoted_strings()
    {
        var cmd = Parse("a1 login \"al\\\"ice\" secret\r\n");
        Assert.Equal("a1", cmd.Tag);
        Assert.Equal("LOGIN", cmd.Name);
        Assert.Equal(["al\"ice", "secret"], cmd.Args.Select(a => a.Text));
        Assert.Equal(ImapTokenKind.String, cmd.Args[0].Kind);
    }

    [Fact]
    public void Literals_synchronizing_and_non_synchronizing_are_inline()
    {
        var cmd = Parse("A APPEND INBOX (\\Seen) {5}\r\nab\r\nc {3+}\r\nxyz\r\n");
        Assert.Equal("ab\r\nc", cmd.Args[2].Text);
        Assert.True(cmd.Args[2].IsLiteral);
        Assert.Equal("xyz", cmd.Args[3].Text);
        Assert.Equal(ImapTokenKind.List, cmd.Args[1].Kind);
        Assert.Equal("\\Seen", cmd.Args[1].Items[0].Text);
    }

    [Fact]
    public void Fetch_sections_keep_their_spaces_and_partial()
    {
        var cmd = Parse("f FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (From Subject)]<0.100> FLAGS)\r\n");
        Assert.Equal("1:*", cmd.Args[0].Text);
        Assert.Equal(["UID", "BODY.PEEK[HEADER.FIELDS (From Subject)]<0.100>", "FLAGS"], cmd.Args[1].Items.Select(i => i.Text));
    }

    [Theory]
    [InlineData("x LOGIN \"unterminated\r\n")]
    [InlineData("x LIST (a\r\n")]
    [InlineData("x LIST a)\r\n")]
    [InlineData("+ NOOP\r\n")]
    [InlineData("x FETCH 1 {10}\r\nshort\r\n")]
    public void Malformed_commands_are_refused(string s) =>
        Assert.False(ImapCommandParser.TryParse(Encoding.UTF8.GetBytes(s), out _, out _, out _));

    [Fact]
    public void Nesting_deeper_than_the_limit_is_refused_without_recursing_further()
    {
        string deep = "x SEARCH " + new string('(', 10_000) + "ALL" + new string(')', 10_000) + "\r\n";
        Assert.False(ImapCommandParser.TryParse(Encoding.UTF8.GetBytes(deep), out _, out string tag, out string error));
        Assert.Equal("x", tag);
        Assert.Contains("deep", error);
    }

    [Theory]
    [InlineData("A APPEND INBOX {12}", 12, false)]
    [InlineData("A APPEND INBOX {7+}", 7, true)]
    public void Literal_announcements_are_found_at_the_line_end(string line, long size, bool nonSync)
    {
        Assert.True(ImapCommandParser.TryGetLiteralAtEnd(Encoding.ASCII.GetBytes(line), out long n, out bool ns));
        Assert.Equal(size, n);
        Assert.Equal(nonSync, ns);
        Assert.False(ImapCommandParser.TryGetLiteralAtEnd("A LOGIN a {b}"u8, out _, out _));
    }

    [Fact]
    public void Sequence_sets_handle_star_and_reversed_ranges()
    {
        Assert.True(SequenceSet.TryParse("1,3:5,9:*"u8, out var set));
        Assert.True(set.Contains(4, 20));
        Assert.False(set.Contains(2, 20));
        Assert.True(set.Contains(20, 20));
        Assert.True(SequenceSet.TryParse("5:2"u8, out var rev));
        Assert.True(rev.Contains(3, 10));
        Assert.False(SequenceSet.TryParse("0"u8, out _));
        Assert.False(SequenceSet.TryParse("1,,2"u8, out _));
        Assert.Equal("1:3,7", SequenceSet.Format([1, 2, 3, 7]));
    }

    [Theory]
    [InlineData("*", "Archive.2024", true)]
    [InlineData("%", "Archive.2024", false)]
    [InlineData("Archive.%", "Archive.2024", true)]
    [InlineData("inbox", "INBOX", true)]
    public void List_wildcards(string pattern, string name, bool match) =>
        Assert.Equal(match, ImapServerSession.Matches(pattern, name));
}
