using System.Text;
using Posthorn.Smtp;
using Xunit;

namespace Posthorn.Tests.Smtp;

/// <summary>Postfix accepts <c>RCPT TO:&lt;user@domain.&gt;</c> (trivial-rewrite strips one trailing dot of a domain,
/// "but not dot-dot or at-dot"); the path parser does the same.</summary>
public sealed class TrailingDotPathTests
{
    [Theory]
    [InlineData("TO:<user@example.test.>", "user@example.test")]
    [InlineData("TO:<user@Example.Test.>", "user@Example.Test")]
    [InlineData("TO:<@relay.example:user@example.test.>", "user@example.test")]
    public void One_trailing_dot_is_accepted_and_stripped(string args, string expected)
    {
        Assert.Equal(SmtpArgumentStatus.Ok, SmtpCommandParser.ParseRcptTo(Encoding.UTF8.GetBytes(args), false, out var path, out _));
        Assert.Equal(expected, path.ToString());
    }

    [Theory]
    [InlineData("TO:<user@example.test..>")]
    [InlineData("TO:<user@.>")]
    [InlineData("TO:<user@.example.test>")]
    public void Dot_dot_and_at_dot_stay_refused(string args) =>
        Assert.NotEqual(SmtpArgumentStatus.Ok, SmtpCommandParser.ParseRcptTo(Encoding.UTF8.GetBytes(args), false, out _, out _));

    [Fact]
    public void Mail_from_takes_a_trailing_dot_too()
    {
        Assert.Equal(SmtpArgumentStatus.Ok, SmtpCommandParser.ParseMailFrom(Encoding.UTF8.GetBytes("FROM:<a@sender.example.>"), false, out var path, out _));
        Assert.Equal("a@sender.example", path.ToString());
    }
}
