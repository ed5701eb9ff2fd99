using Posthorn.Daemon.Policy;
using Posthorn.Tests.Policy;
using Xunit;

namespace Posthorn.Tests.Smtp;

/// <summary>smtpd_sender_login_maps with reject_sender_login_mismatch and its authenticated/unauthenticated
/// forms, through the real restriction evaluator and a real hash table (Postfix postconf(5) wording).</summary>
public class SenderLoginMapsTests
{
    private static string MainCf(PolicyHarness h, string restriction) => $"""
        smtpd_sender_login_maps = {h.Hash("logins", "alice@example.test alice\nshared@example.test alice, bob\n@team.example carol\n")}
        smtpd_sender_restrictions = {restriction}
        """;

    [Theory]
    // Logged in as an owner (also one of several, also through the @domain key): accepted.
    [InlineData("reject_sender_login_mismatch", "alice@example.test", "alice", null)]
    [InlineData("reject_sender_login_mismatch", "shared@example.test", "BOB", null)]
    [InlineData("reject_sender_login_mismatch", "x@team.example", "carol", null)]
    // Logged in, but not the owner, or the address has no owner at all.
    [InlineData("reject_sender_login_mismatch", "alice@example.test", "bob", "553 5.7.1 <alice@example.test>: Sender address rejected: not owned by user bob")]
    [InlineData("reject_sender_login_mismatch", "nobody@else.example", "bob", "553 5.7.1 <nobody@else.example>: Sender address rejected: not owned by user bob")]
    // Not logged in: refused only for an address that has an owner.
    [InlineData("reject_sender_login_mismatch", "alice@example.test", null, "553 5.7.1 <alice@example.test>: Sender address rejected: not logged in")]
    [InlineData("reject_sender_login_mismatch", "nobody@else.example", null, null)]
    // The authenticated form leaves anonymous clients alone; the unauthenticated form leaves logged-in ones alone.
    [InlineData("reject_authenticated_sender_login_mismatch", "alice@example.test", null, null)]
    [InlineData("reject_authenticated_sender_login_mismatch", "alice@example.test", "bob", "553 5.7.1 <alice@example.test>: Sender address rejected: not owned by user bob")]
    [InlineData("reject_unauthenticated_sender_login_mismatch", "alice@example.test", "bob", null)]
    [InlineData("reject_unauthenticated_sender_login_mismatch", "alice@example.test", null, "553 5.7.1 <alice@example.test>: Sender address rejected: not logged in")]
    // The null sender is never checked.
    [InlineData("reject_sender_login_mismatch", "", "bob", null)]
    public async Task Sender_login_mismatch_follows_postfix(string restriction, string sender, string? login, string? reply)
    {
        using var h = new PolicyHarness();
        var session = PolicyHarness.Session(saslUser: login);
        Assert.Equal(reply, await h.RcptAsync(MainCf(h, restriction), rcpt: "user@example.test", sender: sender, session: session));
    }

    [Fact]
    public async Task A_missing_login_map_defers_instead_of_permitting()
    {
        using var h = new PolicyHarness();
        string mainCf = $"""
            smtpd_sender_login_maps = hash:{h.Dir}/does-not-exist
            smtpd_sender_restrictions = reject_sender_login_mismatch
            """;
        var reply = await h.RcptAsync(mainCf, sender: "alice@example.test", session: PolicyHarness.Session(saslUser: "alice"));
        Assert.Equal("451 4.3.0 <alice@example.test>: Temporary lookup failure", reply);
    }

    [Theory]
    [InlineData("alice, bob", "Bob", true)]
    [InlineData("alice bob", "carol", false)]
    [InlineData(null, "alice", false)]
    public void Owner_lists_split_on_commas_and_white_space(string? owners, string user, bool owner) =>
        Assert.Equal(owner, SenderLoginCheck.IsOwner(owners, user));
}
