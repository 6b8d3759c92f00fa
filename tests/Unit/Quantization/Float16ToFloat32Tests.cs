using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Quantization.Conversion;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;
using static EvoQuant.Tests.Quantization.Helpers.TinyModels;

namespace EvoQuant.Tests.Quantization;

/// <summary>An fp16 export (Cast at the input, float16 weights in an initializer and a Constant, Cast
/// back to float32 at the output) converts to float32: no float16 left, the input Cast dropped, the same
/// results as the fp16 model within float16 precision, and then it quantizes dynamically.</summary>
public sealed class Float16ToFloat32Tests
{
    private const int K = 32, N = 8;

    private static OnnxModel Fp16Model()
    {
        var g = new GraphProto { Name = "fp16" };
        g.Input.Add(Float("x", -1, K));
        g.Output.Add(Float("y", -1, N));
        var w = Random(K * N, 1, 0.3f).Select(v => (Half)v).ToArray();
        var b = Random(N, 2, 0.1f).Select(v => (Half)v).ToArray();
        g.Initializer.Add(TensorData.FromArray<Half>("w", ElementTypes.Float16, new long[] { K, N }, w));
        g.Node.Add(Node("Constant", Array.Empty<string>(), new[] { "b" }, "b_const",
            new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = TensorData.FromArray<Half>("b", ElementTypes.Float16, new long[] { N }, b) }));
        g.Node.Add(Node("Cast", new[] { "x" }, new[] { "x16" }, "cast_in", Int("to", ElementTypes.Float16)));
        g.Node.Add(Node("MatMul", new[] { "x16", "w" }, new[] { "m" }, "matmul"));
        g.Node.Add(Node("Add", new[] { "m", "b" }, new[] { "y16" }, "add"));
        g.Node.Add(Node("Cast", new[] { "y16" }, new[] { "y" }, "cast_out", Int("to", ElementTypes.Float)));
        return Model(g, opset: 13);
    }

    [Fact]
    public void ConvertsWeightsAndDropsInputCast()
    {
        var fp16 = Fp16Model();
        var f32 = Float16ToFloat32.Convert(fp16, out int tensors, out int casts);
        var g = f32.Proto.Graph;
        Assert.Equal(2, tensors);
        Assert.Equal(1, casts); // the output Cast keeps the graph output's name
        Assert.DoesNotContain(g.Initializer, t => t.DataType == ElementTypes.Float16);
        Assert.Equal(new[] { "Constant", "MatMul", "Add", "Cast" }, g.Node.Select(n => n.OpType));
        Assert.Equal("x", g.Node[1].Input[0]);

        var x = Random(4 * K, 3);
        var a = Run(fp16, x);
        var b = Run(f32, x);
        Assert.True(ErrorMetrics.MaxAbsError(a, b) < 0.02, $"max diff {ErrorMetrics.MaxAbsError(a, b)}");

        var q = ModelQuantizer.Quantize(f32, QuantizationOptions.Dynamic());
        Assert.Contains(q.Model.Proto.Graph.Node, n => n.OpType == "MatMulInteger");
    }

    private static float[] Run(OnnxModel model, float[] x)
    {
        using var s = new InferenceSession(model.ToBytes());
        using var r = s.Run(new[] { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, new[] { x.Length / K, K })) });
        return ((DenseTensor<float>)r.First().Value).Buffer.ToArray();
    }
}
