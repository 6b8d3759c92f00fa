using EvoQuant.Calibration;
using EvoQuant.Onnx;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>Issue 16: -Bins 1048576 (the documented maximum) planned gigabytes of histograms. The plan keeps
/// them within the budget whatever the bins asked, and leaves default bins alone.</summary>
public class HistogramMemoryPlanTests
{
    private const long Budget = 512L << 20; // -MaxOutputMemory's default

    [Theory]
    [InlineData(CalibrationMethod.Entropy, 34)]
    [InlineData(CalibrationMethod.Percentile, 34)]
    [InlineData(CalibrationMethod.Entropy, 500)]
    public void Huge_bins_are_reduced_to_the_most_that_fit_the_budget(CalibrationMethod method, int tensors)
    {
        var settings = new CalibrationSettings { Method = method, Bins = 1 << 20 };
        var plan = HistogramMemoryPlan.For(settings, tensors, Budget);
        Assert.True(plan.Reduced);
        Assert.True(plan.PlannedBytes <= Budget, $"{plan.PlannedBytes} planned over {Budget}");
        Assert.Equal(HistogramMemoryPlan.Bytes(method, plan.Bins, tensors), plan.PlannedBytes);
        Assert.True(HistogramMemoryPlan.Bytes(method, plan.Bins + 1, tensors) > Budget, "one more bin would still have fitted");
        Assert.True(HistogramMemoryPlan.Bytes(method, 1 << 20, tensors) > Budget);
        Assert.Equal(plan.Bins, plan.Apply(settings).Bins);
    }

    [Theory]
    [InlineData(CalibrationMethod.Entropy)]
    [InlineData(CalibrationMethod.Percentile)]
    public void Default_bins_are_never_reduced(CalibrationMethod method)
    {
        var settings = new CalibrationSettings { Method = method };
        // A budget that holds nothing: the default tables must not change, so the default bins stay.
        var plan = HistogramMemoryPlan.For(settings, 10_000, 1);
        Assert.False(plan.Reduced);
        Assert.Same(settings, plan.Apply(settings));
        // Asked bins above the default are never cut below it.
        var asked = HistogramMemoryPlan.For(settings with { Bins = 1 << 20 }, 10_000, 1);
        Assert.Equal(settings.EffectiveBins, asked.Bins);
    }

    [Fact]
    public void Bins_that_fit_are_kept()
    {
        var settings = new CalibrationSettings { Method = CalibrationMethod.Entropy, Bins = 2048 };
        var plan = HistogramMemoryPlan.For(settings, 34, Budget);
        Assert.False(plan.Reduced);
        Assert.Equal(2048, plan.Bins);
        Assert.True(plan.PlannedBytes <= Budget);
    }

    [Fact]
    public void A_calibration_at_huge_bins_uses_the_planned_bins_and_gives_sane_ranges()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.FashionCnn));
        var items = new object[] { TestData.Require(TestData.FashionCalib) };
        var options = new CalibrationOptions { Method = CalibrationMethod.Entropy, Bins = 1 << 20, BatchSize = 64, MaxHistogramBytes = 64L << 20 };
        CalibrationTable huge;
        HistogramMemoryPlan plan;
        using (var run = new CalibrationRun(model, options))
        {
            plan = run.HistogramPlan;
            foreach (var item in items) run.Add(item);
            huge = run.Complete();
        }
        Assert.True(plan.Reduced);
        Assert.True(plan.PlannedBytes <= options.MaxHistogramBytes);
        Assert.Equal(plan.Bins, huge.Settings.Bins);
        // The histograms kept are within the grid the plan counted.
        long slots = 2L * GridHistogram.MaxBinsFor(plan.Bins);
        Assert.All(huge.Ranges, r => Assert.True(r.Histogram!.Counts.Length <= slots, $"'{r.Tensor}': {r.Histogram.Counts.Length} bins"));
        // Exactly the table of those bins asked for directly; and sane: finite, inside what was seen (with 0).
        var direct = Calibrator.Run(model, items, options with { Bins = plan.Bins });
        Tables.AssertSame(direct.Ranges, huge.Ranges);
        Assert.All(huge.Ranges, r =>
        {
            Assert.True(float.IsFinite(r.RangeMin) && float.IsFinite(r.RangeMax), r.Tensor);
            Assert.True(Math.Min(r.Min, 0) <= r.RangeMin && r.RangeMin < r.RangeMax && r.RangeMax <= Math.Max(r.Max, 0), $"'{r.Tensor}' [{r.RangeMin}, {r.RangeMax}] of [{r.Min}, {r.Max}]");
        });
        // Finer bins let the search cut some tensor further than the default 128 bins (which keep every range whole).
        var coarse = Calibrator.Run(model, items, options with { Bins = 0 });
        Assert.Contains(huge.Ranges, r => r.RangeMax - r.RangeMin < coarse.Ranges.Single(c => c.Tensor == r.Tensor).RangeMax - coarse.Ranges.Single(c => c.Tensor == r.Tensor).RangeMin);
    }
}
