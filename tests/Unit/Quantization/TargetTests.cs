using EvoQuant.Evaluation;
using EvoQuant.Numerics;
using EvoQuant.Quantization;
using EvoQuant.Targets;
using EvoQuant.Tests.Evaluation;
using Xunit;

namespace EvoQuant.Tests.Quantization;

/// <summary>Targets decide the defaults, and pair-safe weights make the integer kernels ONNX Runtime
/// runs agree with the simulation on every x86 CPU. Where a figure depends on the CPU's kernel path,
/// the test says so and asserts what is right for the CPU it runs on.</summary>
public class TargetTests
{
    [Fact]
    public void HostResolvesToTheKindOfThisCpu()
    {
        var host = TargetProfile.Resolve(QuantTarget.Host);
        var cpu = HostCpu.Current;
        Assert.NotEqual(QuantTarget.Host, host.Resolved);
        if (cpu.Architecture == "X64")
            Assert.Equal(cpu.HasInt8DotProduct ? QuantTarget.X64Vnni : QuantTarget.X64Avx2, host.Resolved);
        Assert.Contains(host.Resolved.ToString(), host.ToString());
    }

    [Theory]
    [InlineData(QuantTarget.X64Avx2, QuantType.UInt8, SaturationGuard.PairSafe)]
    [InlineData(QuantTarget.Portable, QuantType.UInt8, SaturationGuard.PairSafe)]
    [InlineData(QuantTarget.X64Vnni, QuantType.UInt8, SaturationGuard.None)]
    [InlineData(QuantTarget.Arm64, QuantType.Int8, SaturationGuard.None)]
    public void NamedTargetsDecideTypesAndGuard(QuantTarget target, QuantType activations, SaturationGuard guard)
    {
        var profile = TargetProfile.Resolve(target);
        var defaults = profile.StaticDefaults();
        Assert.Equal(activations, defaults.ActivationType);
        Assert.Equal(QuantType.Int8, defaults.WeightType);
        Assert.Equal(guard, profile.GuardFor(defaults));
        // Explicit choices win over the target.
        Assert.Equal(SaturationGuard.ReduceRange, profile.GuardFor(defaults with { ReduceRange = true }));
        Assert.Equal(SaturationGuard.None, profile.GuardFor(defaults with { WeightSaturation = SaturationGuard.None }));
        Assert.Equal(SaturationGuard.None, profile.GuardFor(defaults with { ActivationType = QuantType.UInt16 }));
    }

    /// <summary>The second real CNN (PaddleOCR's direction classifier, depthwise convolutions of 3x3 and
    /// 5x5): with the target's defaults the deployed model stays as close to its simulation.</summary>
    [Fact]
    [Trait("Category", "TestData")]
    public void OcrClassifierDeploysAsSimulatedWithTheTargetDefaults()
    {
        var model = Helpers.OcrData.Cls;
        var table = EvoQuant.Calibration.Calibrator.Run(model, new object[] { Helpers.OcrData.CalibrationCrops(model) },
            new EvoQuant.Calibration.CalibrationOptions { Method = EvoQuant.Calibration.CalibrationMethod.MinMax, BatchSize = 16 });
        var options = TargetProfile.Resolve(QuantTarget.Host).StaticDefaults() with
        {
            ActivationRanges = QuantizationOptions.RangesOf(table), PerChannel = true, UseContribOps = true,
        };
        var q = ModelQuantizer.Quantize(model, options);
        var crops = Helpers.OcrData.CalibrationCrops(model);
        var gap = Assert.Single(KernelGapMeter.Measure(model, q.Model, new Dictionary<string, EvoQuant.Data.NamedTensor> { [model.Inputs[0].Name] = crops }));
        Assert.True(gap.GapDb < 1.5, $"deployed {gap.DeployedSqnr:F1} dB, simulated {gap.SimulatedSqnr:F1} dB");
    }

    /// <summary>The comparison reports the gap and, where it is noticeable, explains it in its notes.</summary>
    [Fact]
    public void TheComparisonTellsWhenTheKernelsLoseMoreThanTheSimulation()
    {
        var full = ModelQuantizer.Quantize(FashionWorkload.Model, QuantizationOptions.Static(FashionWorkload.Ranges) with
        {
            ActivationType = QuantType.UInt8, PerChannel = true, WeightSaturation = SaturationGuard.None,
        });
        var (items, _) = FashionWorkload.TestSubset(128);
        var report = AccuracyComparer.Compare(FashionWorkload.Model, full.Model, items);
        var gap = Assert.Single(report.KernelGaps);
        Assert.Equal(64, gap.Rows);
        Assert.Equal(gap.IsNoticeable, report.Notes.Any(n => n.Contains("its simulation")));
        if (TargetProfile.Resolve(QuantTarget.Host).PairsCanSaturate)
            Assert.Contains(report.Notes, n => n.Contains("PairSafe"));
        Assert.Empty(AccuracyComparer.Compare(FashionWorkload.Model, full.Model, items, new ComparisonOptions { CheckKernels = false }).KernelGaps);
    }

    [Fact]
    public void DynamicQuantizationKeepsConvolutionsInFloatUnlessNamed()
    {
        var model = FashionWorkload.Model;
        var byDefault = ModelQuantizer.Quantize(model, QuantizationOptions.Dynamic());
        Assert.Contains(byDefault.QuantizedNodes, n => n.OpType == "Gemm");
        Assert.DoesNotContain(byDefault.QuantizedNodes, n => n.OpType == "Conv");
        Assert.All(byDefault.Skipped.Where(s => s.OpType == "Conv"), s => Assert.Contains("slower than float", s.Reason));
        Assert.Equal(16, byDefault.Skipped.Count(s => s.OpType == "Conv"));

        var named = ModelQuantizer.Quantize(model, QuantizationOptions.Dynamic() with { OpTypes = new[] { "Conv", "Gemm" } });
        Assert.Equal(16, named.QuantizedNodes.Count(n => n.OpType == "Conv"));
    }

    /// <summary>fashion-cnn, static QDQ, uint8 activations, per channel: with pair-safe weights the
    /// deployed model (ORT's fused integer kernels) matches the simulation closely on every CPU. With
    /// full-range weights it does only where 8-bit products are summed in 32 bits (VNNI): on an AVX2-only
    /// CPU the gap shows, which is what makes the guard necessary there.</summary>
    [Fact]
    public void PairSafeWeightsCloseTheGapBetweenKernelsAndSimulation()
    {
        var inputs = new Dictionary<string, EvoQuant.Data.NamedTensor> { ["input"] = FashionWorkload.TestX.SliceRows(0, 200) };
        var baseOptions = QuantizationOptions.Static(FashionWorkload.Ranges) with { ActivationType = QuantType.UInt8, PerChannel = true };

        var safe = ModelQuantizer.Quantize(FashionWorkload.Model, baseOptions with { WeightSaturation = SaturationGuard.PairSafe });
        var full = ModelQuantizer.Quantize(FashionWorkload.Model, baseOptions with { WeightSaturation = SaturationGuard.None });
        var safeGap = Assert.Single(KernelGapMeter.Measure(FashionWorkload.Model, safe.Model, inputs));
        var fullGap = Assert.Single(KernelGapMeter.Measure(FashionWorkload.Model, full.Model, inputs));

        Assert.True(safeGap.GapDb < 1.5, $"pair-safe: deployed {safeGap.DeployedSqnr:F1} dB, simulated {safeGap.SimulatedSqnr:F1} dB");
        Assert.True(safeGap.DeployedSqnr > 28, $"pair-safe deployed {safeGap.DeployedSqnr:F1} dB");
        if (TargetProfile.Resolve(QuantTarget.Host).PairsCanSaturate)
            Assert.True(fullGap.IsNoticeable, $"full-range weights on a CPU without VNNI: deployed {fullGap.DeployedSqnr:F1} dB, simulated {fullGap.SimulatedSqnr:F1} dB (expected the saturation to show)");
        else
            Assert.False(fullGap.IsNoticeable, $"full-range weights with 32-bit sums: deployed {fullGap.DeployedSqnr:F1} dB, simulated {fullGap.SimulatedSqnr:F1} dB");
        Assert.Contains(safe.TargetDecisions, d => d.Contains("pair-safe"));
    }
}
