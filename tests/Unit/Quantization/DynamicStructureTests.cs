using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;
using static EvoQuant.Tests.Quantization.Helpers.TinyModels;

namespace EvoQuant.Tests.Quantization;

/// <summary>What dynamic quantization writes for MatMul and Gemm on a small two-layer model: by default
/// the reference tool's standard ops (DynamicQuantizeLinear + MatMulInteger + Cast + Mul), with
/// UseContribOps or below opset 11 the fused com.microsoft DynamicQuantizeMatMul with the following bias
/// Add folded in; Gemm's transposed weight laid out as [K,N], weights from Constant nodes, per-channel
/// scales, float weights gone, and outputs close to float.</summary>
public sealed class DynamicStructureTests
{
    private const int K = 64, H = 48, N = 10;

    private static OnnxModel TwoLayer(long opset = 13)
    {
        var g = new GraphProto { Name = "two_layer" };
        g.Input.Add(Float("x", -1, K));
        g.Output.Add(Float("y", -1, N));
        g.Node.Add(Constant("w1", new long[] { K, H }, Random(K * H, 1, 0.2f)));
        g.Initializer.Add(TensorData.FromFloats("b1", new long[] { H }, Random(H, 2, 0.1f)));
        g.Initializer.Add(TensorData.FromFloats("w2", new long[] { N, H }, Random(N * H, 3, 0.3f)));
        g.Initializer.Add(TensorData.FromFloats("b2", new long[] { N }, Random(N, 4, 0.1f)));
        g.Node.Add(Node("MatMul", new[] { "x", "w1" }, new[] { "h0" }, "fc1"));
        g.Node.Add(Node("Add", new[] { "h0", "b1" }, new[] { "h1" }, "fc1_bias"));
        g.Node.Add(Node("Relu", new[] { "h1" }, new[] { "h" }, "relu"));
        g.Node.Add(Node("Gemm", new[] { "h", "w2", "b2" }, new[] { "y" }, "fc2", Int("transB", 1)));
        return Model(g, opset);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WithContribOpsMatMulAndGemmBecomeDynamicQuantizeMatMulWithFoldedBias(bool perChannel)
    {
        var model = TwoLayer();
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Dynamic() with { PerChannel = perChannel, UseContribOps = true });
        var g = result.Model.Proto.Graph;

        Assert.Equal(new[] { "DynamicQuantizeMatMul", "Relu", "DynamicQuantizeMatMul" }, g.Node.Select(n => n.OpType));
        Assert.All(g.Node.Where(n => n.OpType == "DynamicQuantizeMatMul"), n => Assert.Equal("com.microsoft", n.Domain));
        Assert.Contains(result.Model.Proto.OpsetImport, o => o.Domain == "com.microsoft");
        var init = g.Initializer.ToDictionary(t => t.Name);
        Assert.DoesNotContain("w2", init.Keys); // float weights dropped
        Assert.DoesNotContain(g.Node, n => n.OpType == "Constant");
        var w2 = init[g.Node[2].Input[1]];
        Assert.Equal(ElementTypes.Int8, w2.DataType);
        Assert.Equal(new long[] { H, N }, w2.Dims.ToArray()); // transB weight stored as [K,N]
        Assert.Equal(perChannel ? new long[] { N } : Array.Empty<long>(), init[g.Node[2].Input[2]].Dims.ToArray());
        Assert.Equal(5, g.Node[0].Input.Count); // A, B, scale, zero point, folded bias

        var x = Random(32 * K, 9);
        var f = Run(model, x);
        var q = Run(result.Model, x);
        double sqnr = ErrorMetrics.Sqnr(f, q);
        Assert.True(sqnr > 30, $"SQNR {sqnr:F1} dB");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ByDefaultWritesTheReferenceToolsStandardOps(bool perChannel)
    {
        var model = TwoLayer();
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Dynamic() with { PerChannel = perChannel });
        var g = result.Model.Proto.Graph;
        Assert.Equal(new[] { "DynamicQuantizeLinear", "MatMulInteger", "Cast", "Mul", "Mul", "Add", "Relu", "DynamicQuantizeLinear", "MatMulInteger", "Cast", "Mul", "Mul", "Add" },
            g.Node.Select(n => n.OpType));
        Assert.All(g.Node, n => Assert.Equal("", n.Domain));
        Assert.DoesNotContain(result.Model.Proto.OpsetImport, o => o.Domain == "com.microsoft");
        var init = g.Initializer.ToDictionary(t => t.Name);
        var mm2 = g.Node.Where(n => n.OpType == "MatMulInteger").Last();
        Assert.Equal(new long[] { H, N }, init[mm2.Input[1]].Dims.ToArray());
        Assert.Equal(perChannel ? new long[] { N } : Array.Empty<long>(), init[mm2.Input[3]].Dims.ToArray()); // b zero point per column

        var x = Random(32 * K, 9);
        double sqnr = ErrorMetrics.Sqnr(Run(model, x), Run(result.Model, x));
        Assert.True(sqnr > 30, $"SQNR {sqnr:F1} dB");
    }

    [Fact]
    public void WorksBelowOpset11BecauseTheFusedOpNeedsNoDynamicQuantizeLinear()
    {
        var result = ModelQuantizer.Quantize(TwoLayer(opset: 9), QuantizationOptions.Dynamic());
        Assert.Equal(2, result.QuantizedNodes.Count);
    }

    [Fact]
    public void ExcludedNodesStayFloat()
    {
        var result = ModelQuantizer.Quantize(TwoLayer(), QuantizationOptions.Dynamic() with { ExcludeNodes = new[] { "fc2" }, UseContribOps = true });
        Assert.Equal(new[] { "DynamicQuantizeMatMul", "Relu", "Gemm" }, result.Model.Proto.Graph.Node.Select(n => n.OpType));
        Assert.Contains(result.Skipped, s => s.Name == "fc2" && s.Reason.Contains("ExcludeNodes"));
    }

    [Fact]
    public void WeightsBehindSliceConcatTransposeReshapeAreFoldedAndQuantized()
    {
        // B = Reshape(Transpose(Concat(Slice(P, rows 2..), Slice(P, rows ..2), axis 0)), [H, K]) as exporters
        // write reordered parameters; the folded value must equal what ORT computes from the float graph.
        var g = new GraphProto { Name = "folded" };
        g.Input.Add(Float("x", -1, H));
        g.Output.Add(Float("y", -1, K));
        g.Node.Add(Constant("p", new long[] { K, H }, Random(K * H, 1, 0.2f)));
        long[] I(params long[] v) => v;
        void IntInit(string name, long[] v) => g.Initializer.Add(TensorData.FromArray<long>(name, ElementTypes.Int64, new long[] { v.Length }, v));
        IntInit("s0", I(2)); IntInit("e0", I(long.MaxValue)); IntInit("ax", I(0));
        IntInit("s1", I(0)); IntInit("e1", I(-62)); IntInit("shape", I(H, -1));
        g.Node.Add(Node("Slice", new[] { "p", "s0", "e0", "ax" }, new[] { "p_tail" }, "slice_tail"));
        g.Node.Add(Node("Slice", new[] { "p", "s1", "e1", "ax" }, new[] { "p_head" }, "slice_head"));
        g.Node.Add(Node("Concat", new[] { "p_tail", "p_head" }, new[] { "p_cat" }, "concat", Int("axis", 0)));
        g.Node.Add(Node("Transpose", new[] { "p_cat" }, new[] { "p_t" }, "transpose"));
        g.Node.Add(Node("Reshape", new[] { "p_t", "shape" }, new[] { "b" }, "reshape"));
        g.Node.Add(Node("MatMul", new[] { "x", "b" }, new[] { "y" }, "matmul"));
        var model = Model(g);
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Dynamic());
        var ops = result.Model.Proto.Graph.Node.Select(n => n.OpType).ToList();
        Assert.Contains("MatMulInteger", ops);
        Assert.DoesNotContain("Slice", ops); // the float chain is gone with the weight
        Assert.DoesNotContain("Constant", ops);

        var x = Random(16 * H, 4);
        using var fs = new InferenceSession(model.ToBytes());
        using var fr = fs.Run(new[] { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, new[] { 16, H })) });
        using var qs = new InferenceSession(result.Model.ToBytes());
        using var qr = qs.Run(new[] { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, new[] { 16, H })) });
        double sqnr = ErrorMetrics.Sqnr(((DenseTensor<float>)fr.First().Value).Buffer.Span, ((DenseTensor<float>)qr.First().Value).Buffer.Span);
        Assert.True(sqnr > 30, $"SQNR {sqnr:F1} dB");
    }

    [Fact]
    public void AWeightSharedByTwoMatMulsIsStoredOnce()
    {
        var g = new GraphProto { Name = "shared" };
        g.Input.Add(Float("x", -1, K));
        g.Input.Add(Float("z", -1, K));
        g.Output.Add(Float("y1", -1, H));
        g.Output.Add(Float("y2", -1, H));
        g.Initializer.Add(TensorData.FromFloats("w", new long[] { K, H }, Random(K * H, 1, 0.2f)));
        g.Node.Add(Node("MatMul", new[] { "x", "w" }, new[] { "y1" }, "a"));
        g.Node.Add(Node("MatMul", new[] { "z", "w" }, new[] { "y2" }, "b"));
        var result = ModelQuantizer.Quantize(Model(g), QuantizationOptions.Dynamic());
        var nodes = result.Model.Proto.Graph.Node.Where(n => n.OpType == "MatMulInteger").ToList();
        Assert.Equal(2, nodes.Count);
        Assert.Equal(nodes[0].Input[1], nodes[1].Input[1]);
        Assert.Equal(3, result.Model.Proto.Graph.Initializer.Count); // int8 weight, scale, zero point
    }

    [Theory]
    [InlineData(QuantType.Int8)]
    [InlineData(QuantType.UInt16)]
    public void RefusesActivationTypesDynamicQuantizeLinearCannotProduce(QuantType type)
    {
        var e = Assert.Throws<QuantizationOptionsException>(() =>
            QuantizationOptionsValidator.Validate(QuantizationOptions.Dynamic() with { ActivationType = type }));
        Assert.Equal("ActivationType", e.Option);
    }

    private static float[] Run(OnnxModel model, float[] x)
    {
        using var s = new InferenceSession(model.ToBytes());
        using var r = s.Run(new[] { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, new[] { x.Length / K, K })) });
        return ((DenseTensor<float>)r.First().Value).Buffer.ToArray();
    }
}
