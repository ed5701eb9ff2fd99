using System.Net;
using Posthorn.Daemon.Policy;
using Xunit;

namespace Posthorn.Tests.Policy;

/// <summary>reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname, reject_non_fqdn_sender and
/// reject_non_fqdn_recipient.</summary>
public sealed class HostnameRestrictionTests : IDisposable
{
    private readonly PolicyHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Theory]
    [InlineData("bad_host!")]
    [InlineData("a..example")]
    [InlineData("-lead.example")]
    [InlineData("1.2.3.4")]
    [InlineData("[1.2.3]")]
    [InlineData("[300.1.1.1]")]
    public async Task Invalid_helo_names_are_refused_with_501(string helo) =>
        Assert.Equal($"501 5.5.2 <{helo}>: Helo command rejected: Invalid name",
            await _h.RcptAsync("smtpd_helo_restrictions = reject_invalid_helo_hostname", session: PolicyHarness.Session(helo: helo)));

    [Theory]
    [InlineData("localhost")]
    [InlineData("mail.example.")]
    [InlineData("under_score.example")]
    [InlineData("[192.0.2.7]")]
    [InlineData("[IPv6:2001:db8::1]")]
    [InlineData(null)]
    public async Task Valid_or_absent_helo_names_pass(string? helo) =>
        Assert.Null(await _h.RcptAsync("smtpd_helo_restrictions = reject_invalid_helo_hostname", session: PolicyHarness.Session(helo: helo)));

    [Theory]
    [InlineData("localhost", false)]
    [InlineData("bad_host!", false)]
    [InlineData("mail.example", true)]
    [InlineData("[127.0.0.1]", true)]
    public async Task Non_fqdn_helo_is_refused_with_504(string helo, bool passes)
    {
        string? reply = await _h.RcptAsync("smtpd_helo_restrictions = reject_non_fqdn_helo_hostname", session: PolicyHarness.Session(helo: helo));
        if (passes) Assert.Null(reply);
        else Assert.Equal($"504 5.5.2 <{helo}>: Helo command rejected: need fully-qualified hostname", reply);
    }

    [Fact]
    public async Task Non_fqdn_sender_is_refused_but_the_null_sender_passes()
    {
        const string cf = "smtpd_sender_restrictions = reject_non_fqdn_sender";
        Assert.Equal("504 5.5.2 <user@localhost>: Sender address rejected: need fully-qualified address",
            await _h.RcptAsync(cf, sender: "user@localhost"));
        Assert.Equal("504 5.5.2 <user>: Sender address rejected: need fully-qualified address", await _h.RcptAsync(cf, sender: "user"));
        Assert.Null(await _h.RcptAsync(cf, sender: ""));
        Assert.Null(await _h.RcptAsync(cf, sender: "user@[192.0.2.1]"));
        Assert.Null(await _h.RcptAsync(cf, sender: "user@sender.example"));
    }

    [Fact]
    public async Task Non_fqdn_recipient_is_refused_in_any_list()
    {
        Assert.Equal("504 5.5.2 <user@localhost>: Recipient address rejected: need fully-qualified address",
            await _h.RcptAsync("smtpd_client_restrictions = reject_non_fqdn_recipient", rcpt: "user@localhost"));
        Assert.Null(await _h.RcptAsync("smtpd_client_restrictions = reject_non_fqdn_recipient"));
    }

    [Theory]
    [InlineData("192.0.2.7", "7.2.0.192")]
    [InlineData("2001:db8::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2")]
    public void Dns_list_query_names_reverse_the_address(string address, string expected) =>
        Assert.Equal(expected, RestrictionEvaluator.ReversedAddress(IPAddress.Parse(address)));
}
