using Xunit;
using EvoQuant.Evaluation;
using EvoQuant.Quantization;

namespace EvoQuant.Tests.Evaluation;

/// <summary>Weights quantized per channel (per-axis DequantizeLinear) are dequantized along their axis:
/// each weight's SQNR is at least its per-tensor SQNR.</summary>
public class PerChannelWeightTests
{
    [Fact]
    public void PerChannelWeightsAreAtLeastAsCloseAsPerTensor()
    {
        var (items, _) = FashionWorkload.TestSubset(16);
        var perChannel = ModelQuantizer.Quantize(FashionWorkload.Model, QuantizationOptions.Static(FashionWorkload.Ranges) with { PerChannel = true });
        var a = Weights(AccuracyComparer.Compare(FashionWorkload.Model, FashionWorkload.Int8.Model, items, new ComparisonOptions { PerTensor = true }));
        var b = Weights(AccuracyComparer.Compare(FashionWorkload.Model, perChannel.Model, items, new ComparisonOptions { PerTensor = true }));

        Assert.True(a.Count >= 17, $"{a.Count} weights compared; the CNN has 16 Conv and 1 Gemm weights");
        Assert.Equal(a.Keys.OrderBy(k => k), b.Keys.OrderBy(k => k));
        foreach (var (name, t) in a)
            Assert.True(b[name].Sqnr >= t.Sqnr - 0.01, $"{name}: per-channel {b[name].Sqnr:F2} dB < per-tensor {t.Sqnr:F2} dB");
        Assert.Contains(a, w => b[w.Key].Sqnr > w.Value.Sqnr + 3); // depthwise weights gain a lot
    }

    private static Dictionary<string, TensorComparison> Weights(AccuracyReport r) =>
        r.Tensors.Where(t => t.Kind == TensorKind.Weight).ToDictionary(t => t.Tensor);
}
