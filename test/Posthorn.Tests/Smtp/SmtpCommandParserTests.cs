using Xunit;
using System.Text;
using Posthorn.Smtp;

namespace Posthorn.Tests.Smtp;

public class SmtpCommandParserTests
{
    private static SmtpArgumentStatus Mail(string args, out string path, out List<SmtpParameter> parameters, bool strict = false)
    {
        var status = SmtpCommandParser.ParseMailFrom(Encoding.UTF8.GetBytes(args), strict, out var p, out parameters);
        path = p.IsNull ? "<>" : p.ToString();
        return status;
    }

    private static SmtpArgumentStatus Rcpt(string args, out string path)
    {
        var status = SmtpCommandParser.ParseRcptTo(Encoding.UTF8.GetBytes(args), false, out var p, out _);
        path = p.ToString();
        return status;
    }

    [Theory]
    [InlineData("HELO x", SmtpVerb.Helo, "HELO", "x")]
    [InlineData("ehlo  client.example  ", SmtpVerb.Ehlo, "ehlo", "client.example")]
    [InlineData("Mail FROM:<a@b>", SmtpVerb.Mail, "Mail", "FROM:<a@b>")]
    [InlineData("DATA", SmtpVerb.Data, "DATA", "")]
    [InlineData("  quit", SmtpVerb.Quit, "quit", "")]
    [InlineData("XYZZY 1 2", SmtpVerb.Unknown, "XYZZY", "1 2")]
    [InlineData("MAILX FROM:<a@b>", SmtpVerb.Unknown, "MAILX", "FROM:<a@b>")]
    [InlineData("", SmtpVerb.Unknown, "", "")]
    public void Verb_is_the_first_word_case_insensitive(string line, SmtpVerb expected, string verb, string args)
    {
        Assert.Equal(expected, SmtpCommandParser.ParseVerb(Encoding.ASCII.GetBytes(line), out ReadOnlySpan<byte> v, out ReadOnlySpan<byte> a));
        Assert.Equal(verb, Encoding.ASCII.GetString(v));
        Assert.Equal(args, Encoding.ASCII.GetString(a));
    }

    [Theory]
    [InlineData("FROM:<>", "<>")]
    [InlineData("FROM:<alice@example.com>", "alice@example.com")]
    [InlineData("from:<Alice@Example.COM>", "Alice@Example.COM")]
    [InlineData("FROM: <alice@example.com>", "alice@example.com")]            // Postfix: space after the colon
    [InlineData("FROM:alice@example.com", "alice@example.com")]               // no brackets, not strict
    [InlineData("FROM:<\"john doe\"@example.com>", "\"john doe\"@example.com")] // RFC 5321 Quoted-string
    [InlineData("FROM:<\"a\\\"b\"@example.com>", "\"a\\\"b\"@example.com")]   // quoted-pairSMTP
    [InlineData("FROM:<@relay.one,@relay.two:user@example.com>", "user@example.com")] // source route dropped
    [InlineData("FROM:<user@[192.0.2.1]>", "user@[192.0.2.1]")]              // address literal
    [InlineData("FROM:<postmaster>", "postmaster")]                            // unqualified
    [InlineData("FROM:<first.last+tag@sub.example.com>", "first.last+tag@sub.example.com")]
    public void Mail_from_paths(string args, string expected)
    {
        Assert.Equal(SmtpArgumentStatus.Ok, Mail(args, out var path, out var parameters));
        Assert.Equal(expected, path);
        Assert.Empty(parameters);
    }

    [Theory]
    [InlineData("FROM:")]
    [InlineData("FROM")]
    [InlineData("TO:<a@b>")]
    [InlineData("")]
    [InlineData("FROM<a@b>")]
    public void Mail_without_from_colon_and_address_is_a_syntax_error(string args) =>
        Assert.Equal(SmtpArgumentStatus.Syntax, Mail(args, out _, out _));

    [Theory]
    [InlineData("FROM:<a@b")]            // unterminated
    [InlineData("FROM:<a@>")]            // empty domain
    [InlineData("FROM:<a@b..c>")]        // empty label
    [InlineData("FROM:<@b>")]            // route without mailbox
    [InlineData("FROM:<a b@c>")]         // space in the local part
    [InlineData("FROM:<\"unterminated@c>")]
    [InlineData("FROM:<a@b>junk")]
    [InlineData("FROM:<a@[1.2.3.4>")]
    [InlineData("FROM:<a@b,c>")]
    public void Mail_with_a_malformed_path_is_a_bad_address(string args) =>
        Assert.Equal(SmtpArgumentStatus.BadAddress, Mail(args, out _, out _));

    [Fact]
    public void Strict_rfc821_envelopes_require_brackets()
    {
        Assert.Equal(SmtpArgumentStatus.BadAddress, Mail("FROM:a@b", out _, out _, strict: true));
        Assert.Equal(SmtpArgumentStatus.Ok, Mail("FROM:<a@b>", out _, out _, strict: true));
    }

    [Fact]
    public void Esmtp_parameters_follow_the_path()
    {
        Assert.Equal(SmtpArgumentStatus.Ok, Mail("FROM:<a@b.example> size=1024  BODY=8BITMIME X-FLAG", out var path, out var p));
        Assert.Equal("a@b.example", path);
        Assert.Equal(3, p.Count);
        Assert.Equal(new SmtpParameter("SIZE", "1024", "size=1024"), p[0]);
        Assert.Equal(new SmtpParameter("BODY", "8BITMIME", "BODY=8BITMIME"), p[1]);
        Assert.Equal(new SmtpParameter("X-FLAG", null, "X-FLAG"), p[2]);
    }

    [Fact]
    public void Null_path_is_refused_for_rcpt()
    {
        Assert.Equal(SmtpArgumentStatus.BadAddress, Rcpt("TO:<>", out _));
        Assert.Equal(SmtpArgumentStatus.Ok, Rcpt("TO:<bob@example.com>", out var path));
        Assert.Equal("bob@example.com", path);
        Assert.Equal(SmtpArgumentStatus.Syntax, Rcpt("FROM:<bob@example.com>", out _));
    }

    [Theory]
    [InlineData("Subject:", true)]
    [InlineData("From:", true)]
    [InlineData("GET", true)]
    [InlineData("post", true)]
    [InlineData("MAIL", false)]
    [InlineData(":", false)]
    [InlineData("XYZ", false)]
    public void Header_lines_and_http_are_non_smtp_commands(string verb, bool expected) =>
        Assert.Equal(expected, SmtpCommandParser.IsNonSmtpCommand(Encoding.ASCII.GetBytes(verb)));

    [Theory]
    [InlineData("client.example", "client.example")]
    [InlineData("a  b", "a?b")]
    [InlineData("<evil>(x)\"y\";@z", "?evil??x??y???z")]
    [InlineData("\u00e9t\u00e9", "??t??")]
    public void Helo_name_is_made_printable_and_neutered_like_postfix(string arg, string expected) =>
        Assert.Equal(expected, SmtpCommandParser.SanitizeHeloName(Encoding.UTF8.GetBytes(arg)));
}
