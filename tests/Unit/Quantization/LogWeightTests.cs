using EvoQuant.Evaluation;
using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Logarithmic;
using EvoQuant.Quantization;
using EvoQuant.Quantization.WeightOnly;
using EvoQuant.Tests.Evaluation;
using Xunit;

namespace EvoQuant.Tests.Quantization;

/// <summary>fashion-cnn with logarithmic weights: ONNX Runtime decodes the codes to exactly the values our
/// numerics give, the weights shrink, and the model stays close to float.</summary>
public class LogWeightTests
{
    [Theory]
    [InlineData(8, 3.4, 25)]
    [InlineData(4, 6.0, 10)]
    public void LogWeightsRunInOnnxRuntime_AsTheirDecodedValues(int bits, double minRatio, double minSqnr)
    {
        var result = LogWeightQuantizer.Quantize(FashionWorkload.Model, new LogWeightOptions(bits));
        Assert.NotEmpty(result.Weights);
        Assert.True(result.WeightRatio >= minRatio, $"{bits}-bit: weights {result.WeightRatio:F2}x smaller");
        Assert.DoesNotContain(result.Model.Proto.Graph.Initializer, t => result.Weights.Any(w => w.Tensor == t.Name));

        // The float model with each weight replaced by its decoded value computes what the log model computes.
        var decoded = FashionWorkload.Model.CloneProto();
        foreach (var w in result.Weights)
        {
            var t = decoded.Graph.Initializer.Single(i => i.Name == w.Tensor);
            var data = FashionWorkload.Model.GetFloats(FashionWorkload.Model.Proto.Graph.Initializer.Single(i => i.Name == w.Tensor));
            var node = decoded.Graph.Node.First(n => n.Input.Count > 1 && n.Input[1] == w.Tensor);
            int axis = node.OpType == "Conv" ? 0 : node.OpType == "MatMul" ? t.Dims.Count - 1 : node.Attribute.FirstOrDefault(a => a.Name == "transB")?.I == 1 ? 0 : 1;
            var (codes, scales) = LogQuantizer.Encode(data, t.Dims.ToArray(), axis, bits, w.StepsPerOctave);
            long inner = 1;
            for (int d = axis + 1; d < t.Dims.Count; d++) inner *= t.Dims[d];
            var values = codes.Select((c, i) => LogQuantizer.Decode(c, scales[(int)(i / inner % scales.Length)], w.StepsPerOctave)).ToArray();
            decoded.Graph.Initializer.Remove(t);
            decoded.Graph.Initializer.Add(TensorData.FromFloats(w.Tensor, t.Dims.ToArray(), values));
        }
        var (items, _) = FashionWorkload.TestSubset(128);
        var same = AccuracyComparer.Compare(FashionWorkload.Model.With(decoded), result.Model, items, new ComparisonOptions { CheckKernels = false });
        Assert.True(same.Summary.MinOutputSqnr > 100, $"decoded in the graph vs in C#: {same.Summary.MinOutputSqnr:F1} dB");

        var vsFloat = AccuracyComparer.Compare(FashionWorkload.Model, result.Model, items, new ComparisonOptions { CheckKernels = false });
        Assert.True(vsFloat.Summary.MinOutputSqnr > minSqnr, $"{bits}-bit log weights: {vsFloat.Summary.MinOutputSqnr:F1} dB");
        Assert.All(result.Weights, w => Assert.True(w.Sqnr > 0 && w.LinearSqnr > 0));
    }

    [Fact]
    public void BadWidthIsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LogWeightQuantizer.Quantize(FashionWorkload.Model, new LogWeightOptions(6)));
    }
}

/// <summary>The Logarithmic weight-only form through ModelQuantizer: what the cmdlet's -WeightOnly -WeightOnlyForm Logarithmic runs.</summary>
public class LogarithmicWeightOnlyTests
{
    [Fact]
    public void FourBitCodes_AreCastFromInt4AtOpset21_AndTheFirstAndLastLayersKeepEightBits()
    {
        var options = QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { Bits = 4, Form = WeightOnlyForm.Logarithmic, EightBitFirstAndLast = true });
        var result = ModelQuantizer.Quantize(FashionWorkload.Model, options);
        var weighted = FashionWorkload.Model.Proto.Graph.Node.Where(n => n.OpType is "Conv" or "Gemm" or "MatMul").ToList();
        Assert.Equal(weighted.Count, result.WeightOnlyLayers.Count);
        Assert.Equal(WeightOnlyForm.Logarithmic, result.WeightOnlyForm);
        Assert.Equal(new[] { 8, 8 }, new[] { result.WeightOnlyLayers[0].Bits, result.WeightOnlyLayers[^1].Bits });
        Assert.All(result.WeightOnlyLayers.Skip(1).SkipLast(1), l => Assert.Equal(4, l.Bits));
        var g = result.Model.Proto.Graph;
        // Foldable: every code tensor is Cast (int4 needs opset 21), none goes through com.microsoft DequantizeLinear.
        Assert.DoesNotContain(g.Node, n => n.OpType == "DequantizeLinear");
        Assert.Equal(weighted.Count, g.Node.Count(n => n.OpType == "Cast" && n.Input[0].EndsWith("_logcodes", StringComparison.Ordinal)));
        Assert.Equal(21, result.Model.Proto.OpsetImport.Single(o => o.Domain is "" or "ai.onnx").Version);
        Assert.True(result.WeightRatio > 4, $"weights {result.WeightRatio:F2}x smaller");

        var (items, _) = FashionWorkload.TestSubset(64);
        var r = AccuracyComparer.Compare(FashionWorkload.Model, result.Model, items, new ComparisonOptions { CheckKernels = false });
        Assert.True(r.Summary.MinOutputSqnr > 10, $"{r.Summary.MinOutputSqnr:F1} dB");
    }

    [Fact]
    public void ExcludedNodesStayFloat_AndGptqIsRefused()
    {
        var first = FashionWorkload.Model.Proto.Graph.Node.First(n => n.OpType == "Conv").Name;
        var options = QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { Bits = 8, Form = WeightOnlyForm.Logarithmic }) with { ExcludeNodes = new[] { first } };
        var result = ModelQuantizer.Quantize(FashionWorkload.Model, options);
        Assert.DoesNotContain(result.QuantizedNodes, n => n.Name == first);
        Assert.Contains(result.Skipped, s => s.Name == first && s.Reason.Contains("ExcludeNodes"));
        var gptq = QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { Form = WeightOnlyForm.Logarithmic, Method = GptqMethod.Default });
        var e = Assert.Throws<QuantizationOptionsException>(() => ModelQuantizer.Quantize(FashionWorkload.Model, gptq));
        Assert.Equal("WeightOnly.Method", e.Option);
    }
}
