using Posthorn.Store.Maildir;
using Xunit;

namespace Posthorn.Tests.Store;

public sealed class MaildirNameOrderTests
{
    [Fact]
    public void Names_sort_by_delivery_time_with_microseconds_compared_as_numbers()
    {
        string[] names =
        [
            "1764125998.M5P10Q1.host",
            "1764125997.M100000P10Q2.host",
            "1764125997.M99999P10Q1.host",
            "999999999.M1P1Q1.host",            // an earlier second with fewer digits
            "1764125997.P10Q3.host",             // no microseconds: after the timed ones of its second, by name
        ];
        Array.Sort(names, MaildirNameOrder.Compare);
        Assert.Equal(
        [
            "999999999.M1P1Q1.host",
            "1764125997.M99999P10Q1.host",
            "1764125997.M100000P10Q2.host",
            "1764125997.P10Q3.host",
            "1764125998.M5P10Q1.host",
        ], names);
    }

    [Fact]
    public void Names_of_other_shapes_fall_back_to_ordinal_order()
    {
        Assert.True(MaildirNameOrder.Compare("abc", "abd") < 0);
        Assert.True(MaildirNameOrder.Compare("x.M5", "x.M40") > 0);   // no leading seconds: ordinal
        Assert.Equal(0, MaildirNameOrder.Compare("1.M5P1", "1.M5P1"));
    }

    [Fact]
    public void Sorting_with_keys_parsed_once_gives_the_order_of_the_comparison()
    {
        var random = new Random(7);
        var names = Enumerable.Range(0, 2000).Select(i => random.Next(4) switch
        {
            0 => $"{1764125990 + random.Next(5)}.M{random.Next(1000000)}P{random.Next(99)}Q{i}.host",
            1 => $"{1764125990 + random.Next(5)}.P{random.Next(99)}Q{i}.host",
            2 => $"{random.Next(100)}.M{random.Next(100)}.x{i}",
            _ => $"odd-name-{random.Next(100)}-{i}",
        }).ToList();
        var expected = names.ToArray();
        Array.Sort(expected, MaildirNameOrder.Compare);

        var items = names.Select(n => (Name: n, Tag: n.Length)).ToList();
        MaildirNameOrder.Sort(items, x => x.Name);

        Assert.Equal(expected, items.Select(x => x.Name));
    }

    [Fact]
    public void Names_that_all_carry_microseconds_sort_by_time_then_by_name_when_times_are_equal()
    {
        var random = new Random(11);
        // Few distinct times, so that many names share one: the ties must come out in ordinal order.
        var names = Enumerable.Range(0, 3000)
            .Select(i => $"{1764125990 + random.Next(3)}.M{random.Next(20) * 50000}P{random.Next(999)}Q{i}.host")
            .ToList();
        var expected = names.ToArray();
        Array.Sort(expected, MaildirNameOrder.Compare);

        var items = names.Select(n => (Name: n, Tag: n.Length)).ToList();
        MaildirNameOrder.Sort(items, x => x.Name);

        Assert.Equal(expected, items.Select(x => x.Name));
        Assert.Contains(expected.Zip(expected.Skip(1)), p => MaildirNameOrder.KeyOf(p.First).Micros == MaildirNameOrder.KeyOf(p.Second).Micros
            && MaildirNameOrder.KeyOf(p.First).Seconds == MaildirNameOrder.KeyOf(p.Second).Seconds);
    }
}
