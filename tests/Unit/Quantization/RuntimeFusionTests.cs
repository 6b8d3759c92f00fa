using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using Microsoft.ML.OnnxRuntime;
using Xunit;
using Xunit.Abstractions;

namespace EvoQuant.Tests.Quantization;

/// <summary>What ONNX Runtime makes of our QDQ models: the int8 kernels it fuses them into, and the
/// wider types through the com.microsoft Q/DQ ops.</summary>
public sealed class RuntimeFusionTests(ITestOutputHelper output)
{
    private static OnnxModel Optimized(OnnxModel model)
    {
        string path = Path.Combine(Path.GetTempPath(), $"evoquant-opt-{Guid.NewGuid():N}.onnx");
        try
        {
            using (var o = new SessionOptions { OptimizedModelFilePath = path, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED })
            using (new InferenceSession(model.ToBytes(), o)) { }
            return OnnxModel.Load(path);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    // uint8 activations: ORT fuses all 16 Convs (and the residual Adds).
    [InlineData(QuantType.UInt8, 16)]
    // int8 activations (the reference tool's default): ORT 1.31 leaves the residual Adds in float and,
    // around them, the 6 Convs whose input or output tensor an Add shares; 10 are fused.
    [InlineData(QuantType.Int8, 10)]
    public void OrtFusesConvsIntoQLinearConv(QuantType activations, int fused)
    {
        var result = ModelQuantizer.Quantize(FashionData.Model, QuantizationOptions.Static(FashionData.Ranges) with { PerChannel = true, ActivationType = activations });
        var opt = Optimized(result.Model);
        var counts = opt.OpTypeCounts;
        output.WriteLine(string.Join(", ", counts.Select(kv => $"{kv.Key} {kv.Value}")));
        Assert.True(counts.GetValueOrDefault("QLinearConv") >= fused, $"{counts.GetValueOrDefault("QLinearConv")} QLinearConv");
        Assert.Equal(1, counts.GetValueOrDefault("com.microsoft:QGemm"));
    }

    [Fact]
    public void Int16ActivationsUseMicrosoftDomainBeforeOpset21AndKeepAccuracy()
    {
        var result = ModelQuantizer.Quantize(FashionData.Model, QuantizationOptions.Static(FashionData.Ranges) with { ActivationType = QuantType.UInt16, WeightType = QuantType.Int16, PerChannel = true });
        var qdq = result.Model.Graph.Nodes.Where(n => n.OpType is "QuantizeLinear" or "DequantizeLinear").ToList();
        Assert.All(qdq, n => Assert.Equal("com.microsoft", n.Domain));
        Assert.Contains(result.Model.Opsets, o => o.Domain == "com.microsoft");
        double acc = FashionData.Accuracy(result.Model);
        output.WriteLine($"uint16/int16: {acc:F2}%");
        Assert.True(acc >= 91.0);
    }

    [Fact]
    public void Int4WeightsRun()
    {
        var result = ModelQuantizer.Quantize(FashionData.Model, QuantizationOptions.Static(FashionData.Ranges) with { WeightType = QuantType.Int4, PerChannel = true });
        var g = result.Model.Graph;
        var conv = g.Nodes.First(n => n.OpType == "Conv");
        Assert.Equal(ElementTypes.Int4, g.GetConstant(g.Producer(conv.Input[1])!.Input[0])!.DataType);
        double acc = FashionData.Accuracy(result.Model);
        output.WriteLine($"int4 weights: {acc:F2}%  weights {result.WeightBytesBefore} -> {result.WeightBytesAfter}");
        Assert.True(acc > 50, $"int4 accuracy {acc:F2}%"); // 4-bit per channel on a 29k-parameter CNN loses a lot; it must still classify
    }
}
