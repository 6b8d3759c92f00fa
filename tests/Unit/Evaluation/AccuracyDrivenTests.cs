using Xunit;
using EvoQuant.Evaluation;
using EvoQuant.Quantization;
using Xunit.Abstractions;

namespace EvoQuant.Tests.Evaluation;

/// <summary>Accuracy-driven quantization of the Fashion CNN with a setting that loses too much (one
/// activation's scale forced 100x too small): it must exclude nodes until the target is met.</summary>
public sealed class AccuracyDrivenTests(ITestOutputHelper output)
{
    private const string Damaged = "/blocks/blocks.1/project/project.0/Conv_output_0";

    [Fact]
    public void ExcludesTheWorstNodesUntilTheDropIsWithinTarget()
    {
        var options = DamagedOptions();
        var (items, labels) = FashionWorkload.TestSubset(500);

        var result = AccuracyDrivenQuantizer.Run(FashionWorkload.Model, options, items, labels, AccuracyTarget.MaxDrop(1.0),
            new AccuracyDrivenOptions { MaxSteps = 8 });

        foreach (var s in result.Steps)
            output.WriteLine($"step {s.Step}: +[{string.Join(", ", s.AddedNodes)}] float {s.ReferenceAccuracy:F2}% int8 {s.CandidateAccuracy:F2}% drop {s.AccuracyDrop:F2} SQNR {s.Sqnr:F1} dB met={s.TargetMet}");
        Assert.True(result.Steps[0].AccuracyDrop > 1.0, $"the damaged setting should miss the target, drop {result.Steps[0].AccuracyDrop}");
        Assert.True(result.TargetMet);
        Assert.True(result.Steps[^1].AccuracyDrop <= 1.0);
        Assert.InRange(result.Steps.Count, 2, 6);
        Assert.Equal(result.Steps.Sum(s => s.AddedNodes.Length), result.ExcludedNodes.Length);
        Assert.All(result.Steps.Skip(1), s => Assert.NotEmpty(s.AddedNodes));
        // The final model really keeps those nodes in float.
        Assert.All(result.ExcludedNodes, n => Assert.Contains(result.Final.Skipped, k => k.Name == n));
    }

    [Fact]
    public void IntegerOperatorFormatUndoesStepsThatHurt()
    {
        var (items, labels) = FashionWorkload.TestSubset(300);
        var result = AccuracyDrivenQuantizer.Run(FashionWorkload.Model, DamagedOptions() with { Format = QuantFormat.QOperator }, items, labels,
            AccuracyTarget.MaxDrop(1.0), new AccuracyDrivenOptions { MaxSteps = 8 });
        foreach (var s in result.Steps)
            output.WriteLine($"step {s.Step}: +[{string.Join(", ", s.AddedNodes)}] int8 {s.CandidateAccuracy:F2}% drop {s.AccuracyDrop:F2} met={s.TargetMet} reverted={s.Reverted}");
        Assert.True(result.Steps[0].AccuracyDrop > 1.0);
        Assert.True(result.TargetMet);
        Assert.All(result.ExcludedNodes, n => Assert.Contains(result.Final.Skipped, k => k.Name == n));
        // Reverted steps leave no trace in the final exclusions.
        Assert.All(result.Steps.Where(s => s.Reverted).SelectMany(s => s.AddedNodes), n => Assert.DoesNotContain(n, result.ExcludedNodes));
    }

    [Fact]
    public void AnSqnrTargetNeedsNoLabels()
    {
        var result = AccuracyDrivenQuantizer.Run(FashionWorkload.Model, DamagedOptions(), FashionWorkload.TestSubset(200).Items, null, AccuracyTarget.MinSqnr(25));
        foreach (var s in result.Steps) output.WriteLine($"step {s.Step}: +[{string.Join(", ", s.AddedNodes)}] SQNR {s.Sqnr:F1} dB met={s.TargetMet}");
        Assert.True(result.TargetMet);
        Assert.True(result.Steps[0].Sqnr < 25);
        Assert.True(result.Steps[^1].Sqnr >= 25);
        Assert.Null(result.Steps[^1].CandidateAccuracy);
    }

    /// <summary>Static int8 QDQ with the scale of one activation forced 100x too small.</summary>
    private static QuantizationOptions DamagedOptions()
    {
        var range = FashionWorkload.Table[Damaged] ?? throw new InvalidOperationException($"No calibrated range for {Damaged}.");
        float goodScale = (range.RangeMax - Math.Min(range.RangeMin, 0)) / 255f;
        return QuantizationOptions.Static(FashionWorkload.Ranges) with
        {
            TensorOverrides = new Dictionary<string, TensorOverride> { [Damaged] = new() { Scale = goodScale / 100 } },
        };
    }

    [Fact]
    public void AnAccuracyTargetWithoutLabelsIsRefused() =>
        Assert.Throws<ArgumentException>(() => AccuracyDrivenQuantizer.Run(FashionWorkload.Model, QuantizationOptions.Static(FashionWorkload.Ranges),
            FashionWorkload.TestSubset(10).Items, null, AccuracyTarget.MaxDrop(1)));
}
