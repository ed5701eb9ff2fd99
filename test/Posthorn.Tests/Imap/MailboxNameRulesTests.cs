using Xunit;
using Posthorn.Imap;

namespace Posthorn.Tests.Imap;

public sealed class MailboxNameRulesTests
{
    [Theory]
    [InlineData("INBOX")]
    [InlineData("&-")]                              // "&" itself
    [InlineData("Entw&APw-rfe")]                    // "Entwürfe"
    [InlineData("&ZeVnLIqe-")]                      // 日本語, RFC 3501 §5.1.3's example
    [InlineData("~peter/mail/&U,BTFw-/&ZeVnLIqe-")] // RFC 3501 §5.1.3, whole (the path rules are the store's)
    [InlineData("&2D3eAA-")]                        // U+1F600 as a surrogate pair
    public void Well_formed_modified_utf7_is_accepted(string name) =>
        Assert.Null(MailboxNameRules.Check(name, utf8Enabled: false));

    [Theory]
    [InlineData("&AGE-")]         // "a" encoded: printable ASCII must represent itself
    [InlineData("&ACY-")]         // "&" encoded instead of "&-"
    [InlineData("&Jjo")]          // shift never closed
    [InlineData("&Jj!o-")]        // not in the modified base64 alphabet
    [InlineData("&Jjo/-")]        // "/" is ordinary base64, not modified base64
    [InlineData("&2D0-")]         // a lone high surrogate
    [InlineData("&3gA-")]         // a lone low surrogate
    [InlineData("&APw")]          // unterminated after a valid unit
    [InlineData("&APx-")]         // leftover bits that are not zero
    [InlineData("&APwA-")]        // a whole extra base64 character past the last unit
    [InlineData("&AAA-")]         // an encoded NUL (control characters are no part of a name)
    [InlineData("Entwürfe")]      // 8-bit before UTF8=ACCEPT
    public void Malformed_modified_utf7_is_refused(string name) =>
        Assert.Equal("Mailbox name is not valid mUTF-7", MailboxNameRules.Check(name, utf8Enabled: false));

    [Fact]
    public void After_UTF8_ACCEPT_names_are_UTF8_and_a_replacement_character_means_a_malformed_sequence()
    {
        Assert.Null(MailboxNameRules.Check("Entwürfe", utf8Enabled: true));
        Assert.Equal("Mailbox name is not valid UTF-8", MailboxNameRules.Check("a\uFFFDb", utf8Enabled: true));
        Assert.Equal("Mailbox name is not valid UTF-8", MailboxNameRules.Check("a\uFFFDb", utf8Enabled: false));
    }
}
