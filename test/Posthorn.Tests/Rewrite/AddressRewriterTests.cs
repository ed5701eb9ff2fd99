using Posthorn.Config;
using Posthorn.Mail.Queue;
using Posthorn.Mail.Rewrite;
using Xunit;

namespace Posthorn.Tests.Rewrite;

/// <summary>canonical(5), virtual(5) and masquerading, against real texthash: tables read from main.cf.</summary>
public sealed class AddressRewriterTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("posthorn-rewrite-");

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>A rewriter for main.cf lines; each <c>name=text</c> of <paramref name="tables"/> becomes a file.</summary>
    private AddressRewriter Rewriter(string mainCf, params (string Name, string Text)[] tables)
    {
        foreach (var (name, text) in tables)
            File.WriteAllText(Path.Combine(_dir.FullName, name), text);
        File.WriteAllText(Path.Combine(_dir.FullName, "main.cf"),
            "myhostname = mail.example.test\nmyorigin = example.test\nmydestination = example.test, localhost\n"
            + mainCf.Replace("DIR", _dir.FullName) + "\n");
        File.WriteAllText(Path.Combine(_dir.FullName, "master.cf"), "smtp inet n - n - - smtpd\n");
        return new AddressRewriter(RewriteSettings.From(ConfigSnapshot.Load(_dir.FullName)));
    }

    [Fact]
    public void Canonical_maps_rewrite_sender_and_recipient_in_envelope_and_headers()
    {
        var r = Rewriter("canonical_maps = texthash:DIR/canonical", ("canonical", "joe@example.test  Joe.Public@example.test\n"));
        Assert.Equal("Joe.Public@example.test", r.RewriteSender("joe@example.test", AddressClasses.EnvelopeSender));
        Assert.Equal("Joe.Public@example.test", r.RewriteRecipient("joe@example.test", AddressClasses.HeaderRecipient));
        Assert.Equal("ann@example.test", r.RewriteSender("ann@example.test", AddressClasses.EnvelopeSender));
    }

    [Fact]
    public void Sender_canonical_maps_apply_only_to_senders_and_before_canonical_maps()
    {
        var r = Rewriter("sender_canonical_maps = texthash:DIR/sc\ncanonical_maps = texthash:DIR/c",
            ("sc", "joe@example.test  joseph@example.test\n"), ("c", "joseph@example.test  j.smith@example.test\n"));
        Assert.Equal("j.smith@example.test", r.RewriteSender("joe@example.test", AddressClasses.EnvelopeSender));
        Assert.Equal("joe@example.test", r.RewriteRecipient("joe@example.test", AddressClasses.EnvelopeRecipient));
    }

    [Fact]
    public void Canonical_classes_limit_where_canonical_maps_apply()
    {
        var r = Rewriter("canonical_maps = texthash:DIR/c\ncanonical_classes = envelope_recipient", ("c", "joe@example.test  x@example.test\n"));
        Assert.Equal("joe@example.test", r.RewriteSender("joe@example.test", AddressClasses.HeaderSender));
        Assert.Equal("x@example.test", r.RewriteRecipient("joe@example.test", AddressClasses.EnvelopeRecipient));
    }

    [Fact]
    public void At_domain_result_keeps_the_local_part_and_user_key_needs_a_local_domain()
    {
        var r = Rewriter("canonical_maps = texthash:DIR/c", ("c", "@old.example  @new.example\nroot  admin@example.test\n"));
        Assert.Equal("kim+x@new.example", r.RewriteSender("kim+x@old.example", AddressClasses.EnvelopeSender));
        Assert.Equal("admin@example.test", r.RewriteSender("root@example.test", AddressClasses.EnvelopeSender));
        // "user" keys match only this host's domains (canonical(5) TABLE FORMAT).
        Assert.Equal("root@elsewhere.example", r.RewriteSender("root@elsewhere.example", AddressClasses.EnvelopeSender));
    }

    [Fact]
    public void Unmatched_extension_is_propagated_unless_propagate_unmatched_extensions_omits_canonical()
    {
        const string table = "joe@example.test  joseph@example.test\n";
        var on = Rewriter("recipient_delimiter = +\ncanonical_maps = texthash:DIR/c", ("c", table));
        Assert.Equal("joseph+lists@example.test", on.RewriteSender("joe+lists@example.test", AddressClasses.EnvelopeSender));
        var off = Rewriter("recipient_delimiter = +\ncanonical_maps = texthash:DIR/c\npropagate_unmatched_extensions = virtual", ("c", table));
        Assert.Equal("joseph@example.test", off.RewriteSender("joe+lists@example.test", AddressClasses.EnvelopeSender));
    }

    [Fact]
    public void Masquerading_strips_subdomains_with_exclusions_and_exceptions()
    {
        var r = Rewriter("masquerade_domains = !sub.example.com, example.com\nmasquerade_exceptions = root");
        Assert.Equal("joe@example.com", r.Masquerade("joe@host.dept.example.com"));
        Assert.Equal("joe@host.sub.example.com", r.Masquerade("joe@host.sub.example.com"));
        Assert.Equal("joe@example.com", r.Masquerade("joe@example.com"));
        Assert.Equal("root@host.example.com", r.Masquerade("root@host.example.com"));
        // masquerade_classes default: header_recipient yes, envelope_recipient no.
        Assert.Equal("joe@example.com", r.RewriteRecipient("joe@a.example.com", AddressClasses.HeaderRecipient));
        Assert.Equal("joe@a.example.com", r.RewriteRecipient("joe@a.example.com", AddressClasses.EnvelopeRecipient));
    }

    [Fact]
    public void Virtual_aliases_expand_recursively_and_an_address_mapped_to_itself_is_kept()
    {
        var r = Rewriter("virtual_alias_maps = texthash:DIR/v", ("v",
            "team@virt.example  ann@virt.example, bob@virt.example\n" +
            "ann@virt.example   ann@virt.example, ann@archive.example\n" +
            "bob@virt.example   robert@example.test\n"));
        Assert.Equal(["ann@virt.example", "robert@example.test", "ann@archive.example"], r.ExpandVirtual("team@virt.example"));
        Assert.Equal(["nobody@virt.example"], r.ExpandVirtual("nobody@virt.example"));
    }

    [Fact]
    public void Virtual_alias_loop_beyond_the_recursion_limit_defers_the_message()
    {
        var r = Rewriter("virtual_alias_maps = texthash:DIR/v\nvirtual_alias_recursion_limit = 5",
            ("v", "a@virt.example  b@virt.example\nb@virt.example  a@virt.example\n"));
        var e = Assert.Throws<RewriteDeferredException>(() => r.ExpandVirtual("a@virt.example"));
        Assert.Equal("unreasonable virtual_alias_maps map nesting for a@virt.example -- message not accepted, try again later", e.Message);
    }

    [Fact]
    public void Virtual_alias_expansion_over_the_expansion_limit_defers_the_message()
    {
        var r = Rewriter("virtual_alias_maps = texthash:DIR/v\nvirtual_alias_expansion_limit = 2",
            ("v", "all@virt.example  a@x.example, b@x.example, c@x.example\n"));
        var e = Assert.Throws<RewriteDeferredException>(() => r.ExpandVirtual("all@virt.example"));
        Assert.Contains("unreasonable virtual_alias_maps map expansion size for all@virt.example", e.Message);
    }

    [Fact]
    public void A_table_that_cannot_be_read_defers_instead_of_passing_mail_unrewritten()
    {
        var r = Rewriter("canonical_maps = texthash:DIR/missing");
        var e = Assert.Throws<RewriteDeferredException>(() => r.RewriteSender("joe@example.test", AddressClasses.EnvelopeSender));
        Assert.StartsWith("canonical_maps map lookup problem for joe@example.test", e.Message);
    }

    [Fact]
    public void Envelope_gets_virtual_expansion_with_original_recipient_bcc_maps_and_always_bcc_without_duplicates()
    {
        var r = Rewriter("""
            virtual_alias_maps = texthash:DIR/v
            sender_bcc_maps = texthash:DIR/sb
            recipient_bcc_maps = texthash:DIR/rb
            always_bcc = audit
            """,
            ("v", "sales@virt.example  ann@example.test, bob@example.test\n"),
            ("sb", "boss@example.test  copies@example.test\n"),
            ("rb", "sales@virt.example  sales-log@example.test\n"));
        var (sender, rcpts) = EnvelopeRewriter.Rewrite(r, "boss@example.test",
            [new QueueRecipient("sales@virt.example"), new QueueRecipient("ann@example.test")]);
        Assert.Equal("boss@example.test", sender);
        Assert.Equal(
            ["ann@example.test<sales@virt.example", "bob@example.test<sales@virt.example", "sales-log@example.test",
             "copies@example.test", "audit@example.test<audit"],
            rcpts.Select(x => x.OriginalRecipient is null ? x.Address : $"{x.Address}<{x.OriginalRecipient}").ToArray());
    }
}
