using Xunit;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using Xunit.Abstractions;

namespace EvoQuant.Tests.Quantization;

/// <summary>End to end on the trained Fashion-MNIST CNN: static QDQ int8 from MinMax ranges of the 200
/// calibration images, accuracy on 2000 labelled test images, sizes.</summary>
public sealed class FashionQdqTests(ITestOutputHelper output)
{
    [Fact]
    public void PerChannelInt8KeepsAccuracyAndShrinksTheModel()
    {
        var model = FashionData.Model;
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Static(FashionData.Ranges) with { PerChannel = true });

        double floatAcc = FashionData.Accuracy(model), quantAcc = FashionData.Accuracy(result.Model);
        long fileAfter = result.Model.ToBytes().Length;
        double weightRatio = (double)result.WeightBytesBefore / result.WeightBytesAfter, fileRatio = (double)model.FileSize / fileAfter;
        output.WriteLine($"per-channel: float {floatAcc:F2}%  int8 {quantAcc:F2}%  weights {result.WeightBytesBefore} -> {result.WeightBytesAfter} ({weightRatio:F2}x)  file {model.FileSize} -> {fileAfter} ({fileRatio:F2}x)");
        output.WriteLine("quantized: " + string.Join(", ", result.QuantizedByOpType.Select(kv => $"{kv.Key} {kv.Value}")));
        foreach (var g in result.Model.Initializers.GroupBy(i => i.ElementType))
            output.WriteLine($"  {g.Key}: {g.Count()} tensors, {g.Sum(i => i.ByteSize)} bytes");
        foreach (var s in result.Skipped) output.WriteLine("skipped " + s);
        foreach (var w in result.Warnings) output.WriteLine("warning " + w);

        Assert.Equal(91.25, floatAcc, 2);
        Assert.True(quantAcc >= floatAcc - 1.0, $"int8 accuracy {quantAcc:F2}% is more than 1 point below float {floatAcc:F2}%");
        // This 29k-parameter model has ~1050 output channels, 448 of them depthwise with 9 weights each:
        // each channel still carries a float weight scale, an int32 bias and a float bias scale (12 bytes),
        // so ~2.8x is what per-channel QDQ allows here (the reference tool's layout, with zero-point
        // vectors, gives ~2.5x). Measured 2.84x: the 3.5x of per-tensor is out of reach per channel, since
        // 29k int8 weights + 1050 x 12 bytes is already 40 KB of the float model's 113 KB.
        // The file also holds the graph: 102 nodes whose tensor names repeat the source tensor's name
        // ("/blocks/blocks.0/conv/conv.0/Conv_output_0") with short suffixes (TensorNames); measured 63.4 KB,
        // 1.96x (1.78x with the reference tool's long suffixes). 3x (41.5 KB) is below the 40 KB of data alone.
        Assert.True(weightRatio >= 2.75, $"weights only {weightRatio:F2}x smaller");
        Assert.True(fileRatio >= 1.9, $"file only {fileRatio:F2}x smaller");
    }

    [Fact]
    public void PerTensorInt8KeepsAccuracy()
    {
        var model = FashionData.Model;
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Static(FashionData.Ranges));
        double floatAcc = FashionData.Accuracy(model), quantAcc = FashionData.Accuracy(result.Model);
        long fileAfter = result.Model.ToBytes().Length;
        double weightRatio = (double)result.WeightBytesBefore / result.WeightBytesAfter, fileRatio = (double)model.FileSize / fileAfter;
        output.WriteLine($"per-tensor: float {floatAcc:F2}%  int8 {quantAcc:F2}%  weights {result.WeightBytesBefore} -> {result.WeightBytesAfter} ({weightRatio:F2}x)  file {model.FileSize} -> {fileAfter} ({fileRatio:F2}x)");
        Assert.True(quantAcc >= floatAcc - 1.5, $"per-tensor int8 accuracy {quantAcc:F2}% vs float {floatAcc:F2}%");
        Assert.True(weightRatio >= 3.5, $"weights only {weightRatio:F2}x smaller"); // measured 3.57x
        Assert.True(fileRatio >= 2.2, $"file only {fileRatio:F2}x smaller"); // measured 2.28x (2.0x with the long suffixes)
    }
}
