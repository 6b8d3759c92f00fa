using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using Xunit;
using Xunit.Abstractions;

namespace EvoQuant.Tests.Quantization;

/// <summary>Static QOperator quantization of the trained Fashion-MNIST CNN with MinMax ranges of the 200
/// calibration images: integer operators only (no float Conv left), accuracy on the 2000 labelled test
/// images within 1.5 points of float, a model about 4x smaller.</summary>
public sealed class QOperatorFashionTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(QuantType.Int8, true)]
    [InlineData(QuantType.UInt8, true)]
    [InlineData(QuantType.Int8, false)]
    public void IntegerOperatorsKeepAccuracy(QuantType activationType, bool perChannel)
    {
        var model = FashionData.Model;
        var options = QuantizationOptions.Static(FashionData.Ranges) with { Format = QuantFormat.QOperator, ActivationType = activationType, PerChannel = perChannel };
        var result = ModelQuantizer.Quantize(model, options);
        var q = result.Model;

        var ops = OpCounts.Of(q);
        output.WriteLine("ops: " + string.Join(", ", ops.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}")));
        foreach (var w in result.Warnings) output.WriteLine("warning " + w);
        foreach (var s in result.Skipped) output.WriteLine("skipped " + s);
        Assert.Equal(16, ops.GetValueOrDefault("QLinearConv"));
        Assert.Equal(0, ops.GetValueOrDefault("Conv"));
        Assert.Equal(0, ops.GetValueOrDefault("Clip")); // ReLU6 folded into the convolutions' output ranges
        Assert.Equal(3, ops.GetValueOrDefault("QLinearAdd"));
        Assert.Equal(1, ops.GetValueOrDefault("QLinearGlobalAveragePool"));
        Assert.Equal(1, ops.GetValueOrDefault("QGemm"));
        Assert.Equal(1, ops.GetValueOrDefault("QuantizeLinear"));
        Assert.Equal(1, ops.GetValueOrDefault("DequantizeLinear"));

        double floatAcc = FashionData.Accuracy(model), quantAcc = FashionData.Accuracy(q);
        long after = q.ToBytes().Length;
        double weightRatio = (double)result.WeightBytesBefore / result.WeightBytesAfter;
        output.WriteLine($"{activationType} activations, {(perChannel ? "per-channel" : "per-tensor")}: float {floatAcc:F2}%  QOperator {quantAcc:F2}%  " +
            $"weights {result.WeightBytesBefore} -> {result.WeightBytesAfter} ({weightRatio:F2}x)  file {model.FileSize} -> {after} ({(double)model.FileSize / after:F2}x)");
        Assert.True(quantAcc >= floatAcc - 1.5, $"QOperator accuracy {quantAcc:F2}% vs float {floatAcc:F2}%");
        // 29k parameters: int32 biases and per-channel scales weigh relatively more than in a large model.
        Assert.True(weightRatio >= 2.9, $"weights only {weightRatio:F2}x smaller");
    }
}
