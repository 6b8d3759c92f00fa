using Xunit;
using EvoQuant.Data;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using Microsoft.ML.OnnxRuntime;
using static EvoQuant.Tests.Evaluation.HandBuilt;

namespace EvoQuant.Tests.Evaluation;

/// <summary>A QOperator candidate (QLinearConv, integer tensors between nodes) built by hand from a
/// two-Conv float model: the intermediate integer tensor is dequantized with its producer's output scale
/// and compared, and each weight against its integer version.</summary>
public class QOperatorMatchingTests
{
    // Weights in [-0.5, 0.5] with scale 1/127 are pair-safe: no adjacent pair of u8 x s8 products can
    // saturate the 16-bit sums of x86 kernels without VNNI, so the figures hold on every CPU.
    private const float XScale = 2f / 255, W1Scale = 1f / 127, W2Scale = 1f / 127;
    private const int XZero = 128;

    [Fact]
    public void IntermediateIntegerTensorAndWeightsAreCompared()
    {
        var rng = new Random(11);
        float[] w1 = Rand(rng, 3 * 2 * 3 * 3, 0.5f), w2 = Rand(rng, 2 * 3, 0.5f);
        var x = Rand(rng, 8 * 2 * 5 * 5, 1f);
        var reference = FloatModel(w1, w2);
        var (tMin, tMax, yMin, yMax) = Ranges(reference, x);
        var candidate = QOperatorModel(w1, w2, tMin, tMax, yMin, yMax);

        var items = new object[] { new NamedTensor("X", x, new long[] { 8, 2, 5, 5 }) };
        var report = AccuracyComparer.Compare(reference, candidate, items, new ComparisonOptions { PerTensor = true });

        var t = Assert.Single(report.Tensors, r => r.Tensor == "T");
        Assert.Equal("conv1", t.Node);
        Assert.StartsWith("evq_eval/deq/", t.CandidateTensor);
        Assert.InRange(t.Sqnr, 25, 60); // 8-bit: about 6 dB per bit, less the clipping-free margin
        Assert.InRange(Assert.Single(report.Outputs).Sqnr, 20, 60);
        var weights = report.Tensors.Where(r => r.Kind == TensorKind.Weight).OrderBy(r => r.Tensor).ToList();
        Assert.Equal(new[] { "W1", "W2" }, weights.Select(w => w.Tensor));
        Assert.All(weights, w => Assert.InRange(w.Sqnr, 35, 60));
        // Each integer node re-run on the float inputs, named after its reference node.
        Assert.Equal(new[] { "conv1", "conv2" }, report.Nodes.Select(n => n.Node).OrderBy(n => n));
        Assert.All(report.Nodes, n => Assert.InRange(n.OwnSqnr, 20, 60));
        Assert.Equal("Conv", report.Nodes[0].OpType);
    }

    private static float[] Rand(Random rng, int n, float amplitude) =>
        Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * amplitude).ToArray();

    private static OnnxModel FloatModel(float[] w1, float[] w2)
    {
        var g = new GraphProto { Name = "float" };
        g.Input.Add(Input("X", ElementTypes.Float));
        g.Output.Add(new ValueInfoProto { Name = "Y", Type = TensorType(ElementTypes.Float) });
        g.Initializer.Add(TensorData.FromFloats("W1", new long[] { 3, 2, 3, 3 }, w1));
        g.Initializer.Add(TensorData.FromFloats("W2", new long[] { 2, 3, 1, 1 }, w2));
        g.Node.Add(Node("Conv", "conv1", new[] { "X", "W1" }, "T", ("pads", new long[] { 1, 1, 1, 1 })));
        g.Node.Add(Node("Conv", "conv2", new[] { "T", "W2" }, "Y"));
        return Model(g);
    }

    private static OnnxModel QOperatorModel(float[] w1, float[] w2, float tMin, float tMax, float yMin, float yMax)
    {
        var (ts, tz) = UInt8Params(tMin, tMax);
        var (ys, yz) = UInt8Params(yMin, yMax);
        var g = new GraphProto { Name = "qop" };
        g.Input.Add(Input("X", ElementTypes.Float));
        g.Output.Add(new ValueInfoProto { Name = "Y", Type = TensorType(ElementTypes.Float) });
        void Scalar(string name, float v) => g.Initializer.Add(TensorData.Scalar(name, ElementTypes.Float, v));
        void U8(string name, int v) => g.Initializer.Add(TensorData.Scalar(name, ElementTypes.UInt8, (byte)v));
        void I8(string name) => g.Initializer.Add(TensorData.Scalar(name, ElementTypes.Int8, (sbyte)0));
        Scalar("xs", XScale); U8("xz", XZero);
        Scalar("w1s", W1Scale); I8("w1z"); Scalar("w2s", W2Scale); I8("w2z");
        Scalar("ts", ts); U8("tz", tz); Scalar("ys", ys); U8("yz", yz);
        g.Initializer.Add(TensorData.FromArray("W1q", ElementTypes.Int8, new long[] { 3, 2, 3, 3 }, w1.Select(v => Q8(v, W1Scale)).ToArray().AsSpan()));
        g.Initializer.Add(TensorData.FromArray("W2q", ElementTypes.Int8, new long[] { 2, 3, 1, 1 }, w2.Select(v => Q8(v, W2Scale)).ToArray().AsSpan()));
        g.Node.Add(Node("QuantizeLinear", "X_q", new[] { "X", "xs", "xz" }, "Xq"));
        g.Node.Add(Node("QLinearConv", "conv1_quant", new[] { "Xq", "xs", "xz", "W1q", "w1s", "w1z", "ts", "tz" }, "T_quantized", ("pads", new long[] { 1, 1, 1, 1 })));
        g.Node.Add(Node("QLinearConv", "conv2_quant", new[] { "T_quantized", "ts", "tz", "W2q", "w2s", "w2z", "ys", "yz" }, "Y_quantized"));
        g.Node.Add(Node("DequantizeLinear", "Y_dq", new[] { "Y_quantized", "ys", "yz" }, "Y"));
        return Model(g);
    }

    private static sbyte Q8(float v, float scale) => (sbyte)Math.Clamp(Math.Round(v / scale, MidpointRounding.ToEven), -127, 127);

    private static (float Scale, int Zero) UInt8Params(float min, float max)
    {
        min = Math.Min(min, 0);
        max = Math.Max(max, 0);
        float scale = (max - min) / 255;
        return (scale, (int)Math.Clamp(Math.Round(-min / scale), 0, 255));
    }

    /// <summary>Min/max of T and Y in the float model (T exposed as an extra output).</summary>
    private static (float, float, float, float) Ranges(OnnxModel model, float[] x)
    {
        var proto = model.CloneProto();
        proto.Graph.Output.Add(new ValueInfoProto { Name = "T", Type = TensorType(ElementTypes.Float) });
        using var session = new InferenceSession(model.With(proto).ToBytes());
        using var input = OrtValue.CreateTensorValueFromMemory(x, new long[] { 8, 2, 5, 5 });
        using var ro = new RunOptions();
        using var outs = session.Run(ro, new[] { "X" }, new[] { input }, new[] { "T", "Y" });
        var t = outs[0].GetTensorDataAsSpan<float>().ToArray();
        var y = outs[1].GetTensorDataAsSpan<float>().ToArray();
        return (t.Min(), t.Max(), y.Min(), y.Max());
    }
}
