using EvoQuant.Evaluation;
using EvoQuant.Quantization;
using Xunit;

namespace EvoQuant.Tests.Evaluation;

/// <summary>The accuracy-driven search with a minimum speedup: decided from real timings, so only bounds no model can
/// miss (0.001x) or reach (1000x) are asserted.</summary>
public class AccuracyDrivenSpeedTests
{
    private static readonly AccuracyDrivenOptions Quick = new()
    {
        Speed = new SpeedOptions { BatchSize = 8, WarmupRuns = 0, MinPairs = 2, MaxPairs = 2, Threads = 1 },
    };

    [Fact]
    public void ASpeedupNoModelReachesEndsTheSearchAtTheFirstAccurateStep()
    {
        var (items, _) = FashionWorkload.TestSubset(16);
        var r = AccuracyDrivenQuantizer.Run(FashionWorkload.Model, QuantizationOptions.Static(FashionWorkload.Ranges), items, null,
            new AccuracyTarget { MinSqnrDb = 0, MinSpeedup = 1000 }, Quick);
        var step = Assert.Single(r.Steps); // more nodes in float would not be faster
        Assert.NotNull(step.Speedup);
        Assert.False(step.TargetMet);
        Assert.False(r.TargetMet);
        Assert.Contains("speedup >= 1000x", r.Target.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ASpeedupEveryModelReachesLeavesTheSearchAsItWas()
    {
        var (items, _) = FashionWorkload.TestSubset(16);
        var r = AccuracyDrivenQuantizer.Run(FashionWorkload.Model, QuantizationOptions.Static(FashionWorkload.Ranges), items, null,
            new AccuracyTarget { MinSqnrDb = 0, MinSpeedup = 0.001 }, Quick);
        var step = Assert.Single(r.Steps);
        Assert.NotNull(step.Speedup);
        Assert.True(r.TargetMet);
        var plain = AccuracyDrivenQuantizer.Run(FashionWorkload.Model, QuantizationOptions.Static(FashionWorkload.Ranges), items, null,
            new AccuracyTarget { MinSqnrDb = 0 }, Quick);
        Assert.Null(Assert.Single(plain.Steps).Speedup); // not timed without the bound
        Assert.Equal(plain.Final.Model.ToBytes(), r.Final.Model.ToBytes());
    }
}
