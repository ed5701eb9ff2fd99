using Posthorn.Mail.Delivery;
using Xunit;

namespace Posthorn.Tests.Delivery;

public class AliasFileTests
{
    [Fact]
    public void Entries_keep_their_targets_and_first_line_number()
    {
        var f = AliasFile.Parse("# comment\n\nroot: bob\npostmaster: root, alice@remote.example\n", "/etc/aliases");
        Assert.Empty(f.Errors);
        Assert.Equal(2, f.Entries.Count);
        Assert.Equal(["bob"], f.Entries[0].Targets);
        Assert.Equal(3, f.Entries[0].Line);
        Assert.Equal("postmaster", f.Entries[1].Name);
        Assert.Equal(["root", "alice@remote.example"], f.Entries[1].Targets);
        Assert.Equal(4, f.Entries[1].Line);
    }

    [Fact]
    public void A_line_starting_with_white_space_continues_the_entry_even_across_comments()
    {
        var f = AliasFile.Parse("staff: bob,\n  carol,\n# in between\n\tdave\nnext: x\n", "a");
        Assert.Empty(f.Errors);
        Assert.Equal(["bob", "carol", "dave"], f.Entries[0].Targets);
        Assert.Equal(1, f.Entries[0].Line);
        Assert.Equal(5, f.Entries[1].Line);
    }

    [Fact]
    public void Quotes_protect_commas_and_spaces_in_commands_and_files()
    {
        var f = AliasFile.Parse("filter: \"|/usr/bin/filter -a, -b\", \"/var/log/mail archive\", <bob>\r\n", "a");
        Assert.Equal(["|/usr/bin/filter -a, -b", "/var/log/mail archive", "bob"], f.Entries[0].Targets);
    }

    [Fact]
    public void Errors_name_the_file_and_line_and_parsing_goes_on()
    {
        var f = AliasFile.Parse("good: bob\nno colon here\n  continuation of line 2\nempty:\nbob@example.com: x\nlast: y\n", "/etc/aliases");
        Assert.Equal(
            ["/etc/aliases, line 2: need name:value pair", "/etc/aliases, line 4: need name:value pair", "/etc/aliases, line 5: name must be local"],
            f.Errors);
        Assert.Equal(["good", "last"], f.Entries.Select(e => e.Name));
    }

    [Fact]
    public void A_continuation_before_any_entry_is_an_error()
    {
        var f = AliasFile.Parse("  bob\nroot: bob\n", "a");
        Assert.Equal(["a, line 1: logical line must not start with white space"], f.Errors);
        Assert.Single(f.Entries);
    }

    [Fact]
    public void A_quoted_name_may_hold_spaces()
    {
        var f = AliasFile.Parse("\"john smith\": john\n", "a");
        Assert.Equal("john smith", f.Entries[0].Name);
    }
}
