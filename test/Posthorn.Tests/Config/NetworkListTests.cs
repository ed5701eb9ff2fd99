using System.Net;
using Posthorn.Config;
using Xunit;

namespace Posthorn.Tests.Config;

public class NetworkListTests
{
    private static NetworkList Parse(string text)
    {
        Assert.True(NetworkList.TryParse(text, out var list, out string? error), error);
        return list;
    }

    [Theory]
    [InlineData("127.0.0.0/8", "127.0.0.1", true)]
    [InlineData("127.0.0.0/8", "128.0.0.1", false)]
    [InlineData("192.168.1.0/24, 10.0.0.0/8", "10.200.3.4", true)]
    [InlineData("192.168.1.5", "192.168.1.5", true)]
    [InlineData("192.168.1.5", "192.168.1.6", false)]
    [InlineData("0.0.0.0/0", "203.0.113.9", true)]
    [InlineData("[2001:db8::]/32", "2001:db8:1::7", true)]
    [InlineData("[2001:db8::]/32", "2001:db9::7", false)]
    [InlineData("[::1]/128", "::1", true)]
    [InlineData("[::1]", "::1", true)]
    [InlineData("2001:db8::/32", "2001:db8::1", true)]
    [InlineData("10.0.0.0/8", "::ffff:10.1.2.3", true)]
    [InlineData("10.0.0.0/8", "::ffff:11.1.2.3", false)]
    [InlineData("10.0.0.0/8", "::a01:203", false)]
    [InlineData("127.0.0.0/8", "::1", false)]
    [InlineData("!10.1.0.0/16 10.0.0.0/8", "10.1.2.3", false)]
    [InlineData("!10.1.0.0/16 10.0.0.0/8", "10.2.2.3", true)]
    public void Contains(string list, string address, bool expected) =>
        Assert.Equal(expected, Parse(list).Contains(IPAddress.Parse(address)));

    [Fact]
    public void To_string_is_postfix_style_with_bracketed_ipv6()
    {
        Assert.Equal("127.0.0.0/8 [::1]/128 10.0.0.5/32 [2001:db8::]/32",
            Parse("127.0.0.0/8, [::1]/128,10.0.0.5 2001:db8::/32").ToString());
    }

    [Theory]
    [InlineData("10.1.1.1/8", "non-null host address bits in \"10.1.1.1/8\", perhaps you should use \"10.0.0.0/8\" instead")]
    [InlineData("[2001:db8::1]/32", "non-null host address bits in \"[2001:db8::1]/32\", perhaps you should use \"[2001:db8::]/32\" instead")]
    [InlineData("10.0.0.0/33", "bad net/mask pattern: \"10.0.0.0/33\"")]
    [InlineData("10.0.0/8", "bad net/mask pattern: \"10.0.0/8\"")]
    [InlineData("mail.example.test", "bad net/mask pattern: \"mail.example.test\"")]
    [InlineData("ldap:/etc/postfix/network_table", "unsupported table or bad net/mask pattern: \"ldap:/etc/postfix/network_table\"")]
    public void Bad_entries_are_rejected_with_postfix_wording(string text, string error)
    {
        Assert.False(NetworkList.TryParse(text, out _, out string? actual));
        Assert.Equal(error, actual);
    }

    [Fact]
    public void File_entry_is_replaced_by_the_networks_in_the_file()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "# trusted\n192.0.2.0/24\n  [2001:db8::]/32\n");
            var list = Parse($"127.0.0.0/8 {file}");
            Assert.True(list.Contains(IPAddress.Parse("192.0.2.77")));
            Assert.True(list.Contains(IPAddress.Parse("2001:db8::5")));
            Assert.False(list.Contains(IPAddress.Parse("198.51.100.1")));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Missing_file_is_an_error()
    {
        Assert.False(NetworkList.TryParse("/nonexistent/posthorn/networks", out _, out string? error));
        Assert.Contains("/nonexistent/posthorn/networks", error);
    }
}
