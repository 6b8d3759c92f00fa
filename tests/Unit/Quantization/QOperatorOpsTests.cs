using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;
using Xunit.Abstractions;
using static EvoQuant.Tests.Quantization.Helpers.TinyModels;

namespace EvoQuant.Tests.Quantization;

/// <summary>Every QOperator op on one small model (Conv+Relu, MaxPool, Sigmoid, LeakyRelu, Mul, Concat,
/// AveragePool, Transpose, Reshape, MatMul, Add of a constant): each becomes its integer form, the model
/// runs in ONNX Runtime and stays close to float; per-column MatMul scales; 16-bit and 4-bit refused.</summary>
public sealed class QOperatorOpsTests(ITestOutputHelper output)
{
    private const int C = 4, S = 8, Out = 10;

    private static OnnxModel Model()
    {
        var g = new GraphProto { Name = "ops" };
        g.Input.Add(Float("x", -1, C, S, S));
        g.Output.Add(Float("y", -1, Out));
        g.Initializer.Add(TensorData.FromFloats("w", new long[] { 8, C, 3, 3 }, Random(8 * C * 9, 1, 0.3f)));
        g.Initializer.Add(TensorData.FromFloats("b", new long[] { 8 }, Random(8, 2, 0.1f)));
        g.Initializer.Add(TensorData.FromFloats("fc", new long[] { 16 * 4 * 4, Out }, Random(256 * Out, 3, 0.1f)));
        g.Initializer.Add(TensorData.FromFloats("fc_b", new long[] { Out }, Random(Out, 4, 0.1f)));
        g.Initializer.Add(TensorData.FromArray<long>("shape", ElementTypes.Int64, new long[] { 2 }, new long[] { 0, -1 }));
        g.Node.Add(Node("Conv", new[] { "x", "w", "b" }, new[] { "c" }, "conv", new AttributeProto { Name = "pads", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 1, 1, 1, 1 } }));
        g.Node.Add(Node("Relu", new[] { "c" }, new[] { "r" }, "relu"));
        g.Node.Add(Node("MaxPool", new[] { "r" }, new[] { "p" }, "maxpool", Ints("kernel_shape", 2, 2), Ints("strides", 2, 2)));
        g.Node.Add(Node("Sigmoid", new[] { "p" }, new[] { "s" }, "sigmoid"));
        g.Node.Add(Node("LeakyRelu", new[] { "p" }, new[] { "l" }, "leaky", new AttributeProto { Name = "alpha", Type = AttributeProto.Types.AttributeType.Float, F = 0.1f }));
        g.Node.Add(Node("Mul", new[] { "s", "l" }, new[] { "m" }, "mul"));
        g.Node.Add(Node("Concat", new[] { "m", "p" }, new[] { "cat" }, "concat", Int("axis", 1)));
        g.Node.Add(Node("Transpose", new[] { "cat" }, new[] { "t" }, "transpose", Ints("perm", 0, 1, 3, 2)));
        g.Node.Add(Node("AveragePool", new[] { "t" }, new[] { "a" }, "avgpool", Ints("kernel_shape", 1, 1)));
        g.Node.Add(Node("Reshape", new[] { "a", "shape" }, new[] { "flat" }, "reshape"));
        g.Node.Add(Node("MatMul", new[] { "flat", "fc" }, new[] { "mm" }, "matmul"));
        g.Node.Add(Node("Add", new[] { "mm", "fc_b" }, new[] { "y" }, "bias"));
        return TinyModels.Model(g, opset: 13);
    }

    private static AttributeProto Ints(string name, params long[] v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Ints, Ints = { v } };

    [Theory]
    [InlineData(QuantType.UInt8, false)]
    [InlineData(QuantType.Int8, true)]
    public void EveryOpBecomesItsIntegerFormAndRuns(QuantType activationType, bool perChannel)
    {
        var model = Model();
        var x = Random(16 * C * S * S, 5, 2f);
        var batch = new Dictionary<string, DenseTensor<float>> { ["x"] = new(x, new[] { 16, C, S, S }) };
        var ranges = MinMaxRanges.Measure(model, new[] { batch });
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Static(ranges) with { Format = QuantFormat.QOperator, ActivationType = activationType, PerChannel = perChannel });
        foreach (var w in result.Warnings) output.WriteLine("warning " + w);

        var ops = result.Model.Proto.Graph.Node.Select(n => n.OpType).ToList();
        output.WriteLine(string.Join(" -> ", ops));
        Assert.Equal(new[] { "QuantizeLinear", "QLinearConv", "MaxPool", "QLinearSigmoid", "QLinearLeakyRelu", "QLinearMul", "QLinearConcat",
            "Transpose", "QLinearAveragePool", "Reshape", "QLinearMatMul", "QLinearAdd", "DequantizeLinear" }, ops);
        var init = result.Model.Proto.Graph.Initializer.ToDictionary(t => t.Name);
        var mm = result.Model.Proto.Graph.Node.Single(n => n.OpType == "QLinearMatMul");
        Assert.Equal(perChannel ? new long[] { Out } : Array.Empty<long>(), init[mm.Input[4]].Dims.ToArray()); // b_scale per column
        Assert.Equal(ElementTypes.Int32, init[result.Model.Proto.Graph.Node.Single(n => n.OpType == "QLinearConv").Input[8]].DataType);

        var f = Run(model, x);
        var q = Run(result.Model, x);
        double sqnr = ErrorMetrics.Sqnr(f, q);
        output.WriteLine($"{activationType} per-channel={perChannel}: SQNR {sqnr:F1} dB");
        Assert.True(sqnr > 30, $"SQNR {sqnr:F1} dB"); // measured 38.1 (uint8) and 38.6 (int8 per channel)
    }

    [Fact]
    public void ANodeThatCannotBeIntegerStaysFloatBetweenBordersAndIsNotReportedQuantized()
    {
        // Conv whose weight is computed at run time (Identity of a graph input): no QLinearConv.
        var g = new GraphProto { Name = "border" };
        g.Input.Add(Float("x", -1, C, S, S));
        g.Input.Add(Float("wx", 8, C, 3, 3));
        g.Output.Add(Float("y", -1, 8, S - 2, S - 2));
        g.Node.Add(Node("Conv", new[] { "x", "wx" }, new[] { "c" }, "conv"));
        g.Node.Add(Node("Sigmoid", new[] { "c" }, new[] { "y" }, "sigmoid"));
        var model = TinyModels.Model(g, opset: 13);
        var ranges = new Dictionary<string, ActivationRange> { ["x"] = new(-2, 2), ["wx"] = new(-1, 1), ["c"] = new(-10, 10), ["y"] = new(0, 1) };
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Static(ranges) with { Format = QuantFormat.QOperator, ActivationType = QuantType.UInt8 });

        Assert.Equal(new[] { "Conv", "QuantizeLinear", "QLinearSigmoid", "DequantizeLinear" }, result.Model.Proto.Graph.Node.Select(n => n.OpType));
        Assert.Equal(new[] { "Sigmoid" }, result.QuantizedNodes.Select(n => n.OpType));
        Assert.Contains(result.Warnings, w => w.Contains("'conv'") && w.Contains("stays float"));
    }

    [Fact]
    public void AReluThatCannotFoldBecomesQLinearLeakyReluWithAlphaZero()
    {
        // The Conv output is also a graph output, so the Relu cannot take it over.
        var g = new GraphProto { Name = "relu" };
        g.Input.Add(Float("x", -1, C, S, S));
        g.Output.Add(Float("c"));
        g.Output.Add(Float("r"));
        g.Initializer.Add(TensorData.FromFloats("w", new long[] { 8, C, 3, 3 }, Random(8 * C * 9, 1, 0.3f)));
        g.Node.Add(Node("Conv", new[] { "x", "w" }, new[] { "c" }, "conv"));
        g.Node.Add(Node("Relu", new[] { "c" }, new[] { "r" }, "relu"));
        var model = TinyModels.Model(g, opset: 13);
        var x = Random(8 * C * S * S, 5, 2f);
        var ranges = MinMaxRanges.Measure(model, new[] { new Dictionary<string, DenseTensor<float>> { ["x"] = new(x, new[] { 8, C, S, S }) } });
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Static(ranges) with { Format = QuantFormat.QOperator, ActivationType = QuantType.UInt8 });

        var relu = Assert.Single(result.Model.Proto.Graph.Node, n => n.OpType == "QLinearLeakyRelu");
        Assert.Equal(0f, relu.Attribute.Single(a => a.Name == "alpha").F);
        using var s = new InferenceSession(result.Model.ToBytes());
        using var r = s.Run(new[] { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, new[] { 8, C, S, S })) });
        var outR = ((DenseTensor<float>)r.First(v => v.Name == "r").Value).Buffer.ToArray();
        Assert.All(outR, v => Assert.True(v >= 0));
        Assert.Contains(outR, v => v > 0);
    }

    [Fact]
    public void AnIfBranchReadingAnIntegerResultGetsItsFloatBack()
    {
        // The branches read the Conv output from the outer scope: it must still exist as float.
        var g = new GraphProto { Name = "with_if" };
        g.Input.Add(Float("x", -1, C, S, S));
        g.Input.Add(new ValueInfoProto { Name = "cond", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = ElementTypes.Bool, Shape = new TensorShapeProto() } } });
        g.Output.Add(Float("y"));
        g.Initializer.Add(TensorData.FromFloats("w", new long[] { 8, C, 3, 3 }, Random(8 * C * 9, 1, 0.3f)));
        g.Node.Add(Node("Conv", new[] { "x", "w" }, new[] { "c" }, "conv"));
        GraphProto Branch(string op, string output)
        {
            var b = new GraphProto { Name = op };
            b.Node.Add(Node(op, new[] { "c" }, new[] { output }, op + "_node"));
            b.Output.Add(Float(output));
            return b;
        }
        g.Node.Add(Node("If", new[] { "cond" }, new[] { "y" }, "if",
            new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = Branch("Identity", "t") },
            new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = Branch("Neg", "e") }));
        var model = TinyModels.Model(g, opset: 13);
        var ranges = new Dictionary<string, ActivationRange> { ["x"] = new(-2, 2), ["c"] = new(-6, 6) };
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Static(ranges) with { Format = QuantFormat.QOperator, ActivationType = QuantType.UInt8 });

        var nodes = result.Model.Proto.Graph.Node;
        Assert.Equal(new[] { "QuantizeLinear", "QLinearConv", "DequantizeLinear", "If" }, nodes.Select(n => n.OpType));
        Assert.Equal("c", nodes[2].Output[0]);
        Assert.Null(RuntimeVerifier.TryRun(result.Model.ToBytes()));
    }

    [Theory]
    [InlineData(QuantType.Int16, QuantType.Int8)]
    [InlineData(QuantType.UInt8, QuantType.Int4)]
    [InlineData(QuantType.UInt16, QuantType.Int8)]
    public void RefusesWideAndNarrowTypes(QuantType activations, QuantType weights)
    {
        var o = QuantizationOptions.Static(new Dictionary<string, ActivationRange>()) with { Format = QuantFormat.QOperator, ActivationType = activations, WeightType = weights };
        var e = Assert.Throws<QuantizationOptionsException>(() => QuantizationOptionsValidator.Validate(o));
        Assert.Contains("QOperator", e.Message);
    }

    private static float[] Run(OnnxModel model, float[] x)
    {
        using var s = new InferenceSession(model.ToBytes());
        using var r = s.Run(new[] { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, new[] { x.Length / (C * S * S), C, S, S })) });
        return ((DenseTensor<float>)r.First().Value).Buffer.ToArray();
    }
}
