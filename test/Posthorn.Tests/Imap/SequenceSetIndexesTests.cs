using System.Text;
using Posthorn.Imap;
using Posthorn.Store;
using Xunit;

namespace Posthorn.Tests.Imap;

/// <summary>A sequence set resolved against a mailbox view by binary search (<see cref="SequenceSet.Indexes"/>) names the
/// same messages as the set's own definition (<see cref="SequenceSet.Contains"/>) tested message by message.</summary>
public sealed class SequenceSetIndexesTests
{
    private static MessageInfo[] View(params uint[] uids) =>
        uids.Select(u => new MessageInfo(u, MessageFlags.None, [], 1, 10, DateTimeOffset.UnixEpoch)).ToArray();

    private static SequenceSet Set(string text)
    {
        Assert.True(SequenceSet.TryParse(Encoding.ASCII.GetBytes(text), out var set));
        return set;
    }

    [Theory]
    [InlineData("1:*", false, new[] { 0, 1, 2, 3, 4 })]
    [InlineData("*", false, new[] { 4 })]
    [InlineData("4:2,3,9", false, new[] { 1, 2, 3 })]      // reversed range, overlap, beyond the count
    [InlineData("7", true, new[] { 2 })]
    [InlineData("8", true, new int[0])]                    // a UID not in the view
    [InlineData("*:12", true, new[] { 3, 4 })]             // "*" is the largest UID, 30
    [InlineData("100:*", true, new[] { 4 })]               // RFC 9051 §6.4.8: n:* with n above the largest gives the last
    [InlineData("1:3,2:7,30", true, new[] { 0, 1, 2, 4 })]
    public void Ranges_give_the_messages_they_name_ascending_and_once(string text, bool uid, int[] expected)
    {
        var view = View(2, 3, 7, 12, 30);
        var set = Set(text);
        Assert.Equal(expected, set.Indexes(view, uid));
    }

    [Fact]
    public void Random_sets_on_random_views_agree_with_the_definition()
    {
        var random = new Random(11);
        for (int round = 0; round < 500; round++)
        {
            var uids = Enumerable.Range(1, random.Next(0, 60)).Select(_ => (uint)random.Next(1, 200)).Distinct().Order().ToArray();
            var view = View(uids);
            string Number(int max) => random.Next(8) == 0 ? "*" : random.Next(1, max).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var text = string.Join(',', Enumerable.Range(0, random.Next(1, 5))
                .Select(_ => random.Next(2) == 0 ? Number(220) : $"{Number(220)}:{Number(220)}"));
            var set = Set(text);
            foreach (bool uid in new[] { false, true })
            {
                uint largest = view.Length == 0 ? 0 : uid ? view[^1].Uid : (uint)view.Length;
                var expected = Enumerable.Range(0, view.Length).Where(i => set.Contains(uid ? view[i].Uid : (uint)(i + 1), largest));
                Assert.True(expected.SequenceEqual(set.Indexes(view, uid)), $"{text} uid={uid} on [{string.Join(' ', uids)}]");
            }
        }
    }
}
