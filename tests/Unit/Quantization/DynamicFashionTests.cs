using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using Xunit;
using Xunit.Abstractions;

namespace EvoQuant.Tests.Quantization;

/// <summary>Dynamic quantization of the Fashion-MNIST CNN, no calibration: 16 Conv become ConvInteger,
/// the final Gemm MatMulInteger; accuracy on the 2000 labelled test images stays within a point.</summary>
public sealed class DynamicFashionTests(ITestOutputHelper output)
{
    [Fact]
    public void ConvIntegerCnnKeepsAccuracy()
    {
        var model = FashionData.Model;
        // Conv is named: by default dynamic quantization keeps it in float (ConvInteger is slower than
        // float Conv on ONNX Runtime's CPU provider); this test is about the ConvInteger rewrite itself.
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Dynamic() with { OpTypes = new[] { "Conv", "MatMul", "Gemm", "LSTM" } });
        var ops = OpCounts.Of(result.Model);
        Assert.Equal(16, ops.GetValueOrDefault("ConvInteger"));
        Assert.Equal(1, ops.GetValueOrDefault("MatMulInteger"));
        Assert.Equal(0, ops.GetValueOrDefault("Conv"));

        double floatAcc = FashionData.Accuracy(model), quantAcc = FashionData.Accuracy(result.Model);
        double ratio = (double)result.WeightBytesBefore / result.WeightBytesAfter;
        output.WriteLine($"float {floatAcc:F2}%  dynamic {quantAcc:F2}%  weights {result.WeightBytesBefore} -> {result.WeightBytesAfter} ({ratio:F2}x)");
        Assert.True(quantAcc >= floatAcc - 1.0, $"dynamic {quantAcc:F2}% vs float {floatAcc:F2}%"); // measured 91.45 vs 91.25
        Assert.True(ratio > 3.3, $"weights only {ratio:F2}x smaller"); // measured 3.58
    }
}
