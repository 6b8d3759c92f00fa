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
        if (cpu.Architecture == System.Runtime.InteropServices.Architecture.X64)
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
        double safeGap = Assert.Single(KernelGapMeter.Measure(safe.Model, inputs)).Sqnr;
        double fullGap = Assert.Single(KernelGapMeter.Measure(full.Model, inputs)).Sqnr;

        Assert.True(safeGap > 35, $"pair-safe: deployed vs simulated {safeGap:F1} dB");
        if (TargetProfile.Resolve(QuantTarget.Host).PairsCanSaturate)
            Assert.True(fullGap < 25, $"full-range weights on a CPU without VNNI: {fullGap:F1} dB (expected the saturation to show)");
        else
            Assert.True(fullGap > 35, $"full-range weights with 32-bit sums: {fullGap:F1} dB");
        Assert.Contains(safe.TargetDecisions, d => d.Contains("pair-safe"));
    }
}
