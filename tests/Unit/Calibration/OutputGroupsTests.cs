using EvoQuant.Calibration;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>Greedy packing of fetched tensors under a byte budget, in graph order.</summary>
public class OutputGroupsTests
{
    private static readonly Dictionary<string, long> Bytes = new() { ["a"] = 40, ["b"] = 50, ["c"] = 200, ["d"] = 10, ["e"] = 10 };

    [Fact]
    public void Packs_consecutive_tensors_and_isolates_oversized_ones()
    {
        var groups = OutputGroups.Plan(new[] { "a", "b", "c", "d", "e" }, Bytes, 100);
        Assert.Equal(new[] { new[] { "a", "b" }, new[] { "c" }, new[] { "d", "e" } }, groups.Select(g => g.ToArray()));
    }

    [Fact]
    public void Everything_fits_in_one_group_under_a_large_budget()
    {
        Assert.Single(OutputGroups.Plan(new[] { "a", "b", "c", "d", "e" }, Bytes, 1000));
    }

    [Fact]
    public void A_group_that_grew_past_the_budget_overflows_but_a_lone_tensor_does_not()
    {
        var groups = OutputGroups.Plan(new[] { "a", "b", "c" }, Bytes, 100);
        Assert.False(OutputGroups.Overflows(groups, Bytes, 100));
        var grown = new Dictionary<string, long>(Bytes) { ["b"] = 70, ["c"] = 500 };
        Assert.True(OutputGroups.Overflows(groups, grown, 100));
        Assert.False(OutputGroups.Overflows(groups.Skip(1), grown, 100));
    }
}
