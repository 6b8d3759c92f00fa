using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using EvoQuant.Tests.Support;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace EvoQuant.Tests.Quantization;

/// <summary>PaddleOCR's direction classifier keeps its weights in Constant nodes.</summary>
[Trait("Category", "TestData")]
public sealed class OcrClsQdqTests(ITestOutputHelper output)
{
    [Fact]
    public void ConstantNodeWeightsAreQuantized()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.OcrCls));
        string input = model.Inputs[0].Name;
        var rng = new Random(42);
        // Image-like: smooth values in the normalised [-1, 1] range PaddleOCR feeds.
        var batches = Enumerable.Range(0, 2).Select(_ =>
        {
            var data = new float[4 * 3 * 48 * 192];
            for (int i = 0; i < data.Length; i++) data[i] = (float)(Math.Sin(i * 0.01 + rng.NextDouble()) * 0.8);
            return (IReadOnlyDictionary<string, DenseTensor<float>>)new Dictionary<string, DenseTensor<float>> { [input] = new DenseTensor<float>(data, new[] { 4, 3, 48, 192 }) };
        }).ToList();
        var ranges = MinMaxRanges.Measure(model, batches);

        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Static(ranges) with { PerChannel = true, UseContribOps = true });
        var q = result.Model;
        output.WriteLine($"weight bytes {result.WeightBytesBefore} -> {result.WeightBytesAfter}; int8 tensors {q.Initializers.Count(i => i.ElementType == "int8" && i.ElementCount > 1)}");
        output.WriteLine("quantized: " + string.Join(", ", result.QuantizedByOpType.Select(kv => $"{kv.Key} {kv.Value}")));
        foreach (var s in result.Skipped.GroupBy(s => s.OpType + ": " + s.Reason)) output.WriteLine($"skipped {s.Count()}x {s.Key}");
        foreach (var w in result.Warnings) output.WriteLine("warning " + w);

        // Every Conv and MatMul weight (all in Constant nodes originally) is now int8 behind a DequantizeLinear.
        int weighted = model.Graph.Nodes.Count(n => n.OpType is "Conv" or "MatMul");
        var g = q.Graph;
        var weights = g.Nodes.Where(n => n.OpType is "Conv" or "MatMul").Select(n => g.Producer(n.Input[1])).ToList();
        Assert.Equal(weighted, weights.Count);
        Assert.All(weights, dq =>
        {
            Assert.Equal("DequantizeLinear", dq?.OpType);
            Assert.Equal(ElementTypes.Int8, g.GetConstant(dq!.Input[0])?.DataType);
        });
        Assert.True(result.WeightBytesAfter * 2.5 < result.WeightBytesBefore, $"{result.WeightBytesBefore} -> {result.WeightBytesAfter}");
        // The float Constant nodes of those weights are gone.
        var original = model.Graph.Nodes.Where(n => n.OpType is "Conv" or "MatMul").Select(n => n.Input[1]).ToHashSet();
        Assert.DoesNotContain(g.Nodes, n => n.OpType == "Constant" && original.Contains(n.Output[0]));
        Assert.Null(RuntimeVerifier.TryRun(q.ToBytes()));
    }
}
