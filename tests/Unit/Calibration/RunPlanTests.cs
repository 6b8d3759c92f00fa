using EvoQuant.Calibration;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>Cutting a batch by rows first, by tensors only when one row is over the budget.</summary>
public class RunPlanTests
{
    private static readonly string[] Tensors = { "a", "b", "c" };
    private static readonly Dictionary<string, long> RowBytes = new() { ["a"] = 90, ["b"] = 50, ["c"] = 10 };

    [Fact]
    public void Rows_that_fit_share_one_group_of_every_tensor()
    {
        var plan = RunPlan.Create(Tensors, RowBytes, 1000);
        Assert.Equal(6, plan.RowsPerRun); // 150 bytes per row
        Assert.Equal(new[] { Tensors }, plan.Groups.Select(g => g.ToArray()));
    }

    [Fact]
    public void A_row_over_the_budget_runs_alone_in_groups_of_tensors()
    {
        var plan = RunPlan.Create(Tensors, RowBytes, 100);
        Assert.Equal(1, plan.RowsPerRun);
        Assert.Equal(new[] { new[] { "a" }, new[] { "b", "c" } }, plan.Groups.Select(g => g.ToArray()));
    }

    [Fact]
    public void Unknown_sizes_run_whole_batches_until_learned()
    {
        var plan = RunPlan.Create(Tensors, new Dictionary<string, long>(), 1000);
        Assert.Equal(long.MaxValue, plan.RowsPerRun);
        Assert.Single(plan.Groups);
        Assert.False(plan.Overflows(new Dictionary<string, long>(), 1000));
        Assert.True(plan.Overflows(RowBytes, 1000));
    }

    [Fact]
    public void Rows_that_grew_past_the_budget_overflow()
    {
        var plan = RunPlan.Create(Tensors, RowBytes, 1000); // 6 rows of 150
        Assert.False(plan.Overflows(new Dictionary<string, long>(RowBytes) { ["a"] = 106 }, 1000)); // 6 x 166 = 996
        Assert.True(plan.Overflows(new Dictionary<string, long>(RowBytes) { ["a"] = 107 }, 1000)); // 6 x 167 = 1002
    }

    [Fact]
    public void A_lone_tensor_over_the_budget_cannot_be_cut_further()
    {
        var plan = RunPlan.Create(Tensors, RowBytes, 100);
        var grown = new Dictionary<string, long>(RowBytes) { ["a"] = 500 };
        Assert.False(plan.Overflows(grown, 100));
        Assert.True(plan.Overflows(new Dictionary<string, long>(RowBytes) { ["b"] = 95 }, 100));
    }
}
