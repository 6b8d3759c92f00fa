using Xunit;
using EvoQuant.Data;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using static EvoQuant.Tests.Evaluation.HandBuilt;

namespace EvoQuant.Tests.Evaluation;

/// <summary>A QDQ candidate whose graph output sits behind the output's Q/DQ pair (the Conv now writes
/// another name): the Conv's own error is still measured, against the reference's output.</summary>
public class QdqGraphOutputTests
{
    [Fact]
    public void NodeWritingARenamedGraphOutputGetsItsOwnError()
    {
        var rng = new Random(5);
        var w = Enumerable.Range(0, 3 * 2 * 3 * 3).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var x = Enumerable.Range(0, 4 * 2 * 5 * 5).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();

        var f = new GraphProto { Name = "float" };
        f.Input.Add(Input("X", ElementTypes.Float));
        f.Output.Add(new ValueInfoProto { Name = "Y", Type = TensorType(ElementTypes.Float) });
        f.Initializer.Add(TensorData.FromFloats("W", new long[] { 3, 2, 3, 3 }, w));
        f.Node.Add(Node("Conv", "conv", new[] { "X", "W" }, "Y", ("pads", new long[] { 1, 1, 1, 1 })));

        // Weights in [-0.5, 0.5] with scale 1/127 are pair-safe (no adjacent pair of products can saturate
        // x86's 16-bit sums without VNNI), so the integer kernels match the simulation on every CPU.
        float ws = 1f / 127, xs = 2f / 255, ys = 6f / 255;
        var q = new GraphProto { Name = "qdq" };
        q.Input.Add(Input("X", ElementTypes.Float));
        q.Output.Add(new ValueInfoProto { Name = "Y", Type = TensorType(ElementTypes.Float) });
        q.Initializer.Add(TensorData.FromArray("Wq", ElementTypes.Int8, new long[] { 3, 2, 3, 3 }, w.Select(v => (sbyte)Math.Round(v / ws)).ToArray().AsSpan()));
        q.Initializer.Add(TensorData.Scalar("ws", ElementTypes.Float, ws));
        q.Initializer.Add(TensorData.Scalar("xs", ElementTypes.Float, xs));
        q.Initializer.Add(TensorData.Scalar("ys", ElementTypes.Float, ys));
        q.Initializer.Add(TensorData.Scalar("z", ElementTypes.Int8, (sbyte)0));
        q.Node.Add(Node("QuantizeLinear", "xq", new[] { "X", "xs", "z" }, "X_q"));
        q.Node.Add(Node("DequantizeLinear", "xdq", new[] { "X_q", "xs", "z" }, "X_dq"));
        q.Node.Add(Node("DequantizeLinear", "wdq", new[] { "Wq", "ws", "z" }, "W_dq"));
        q.Node.Add(Node("Conv", "conv", new[] { "X_dq", "W_dq" }, "Y_pre", ("pads", new long[] { 1, 1, 1, 1 })));
        q.Node.Add(Node("QuantizeLinear", "yq", new[] { "Y_pre", "ys", "z" }, "Y_q"));
        q.Node.Add(Node("DequantizeLinear", "ydq", new[] { "Y_q", "ys", "z" }, "Y"));

        var report = AccuracyComparer.Compare(Model(f), Model(q), new object[] { new NamedTensor("X", x, new long[] { 4, 2, 5, 5 }) },
            new ComparisonOptions { PerTensor = true });

        var node = Assert.Single(report.Nodes);
        Assert.Equal("conv", node.Node);
        Assert.Equal("Y", node.Tensor);
        Assert.InRange(node.OwnSqnr, 15, 60);
        // The graph input's Q/DQ has no quantized producer, so it is charged to the Conv: own error is at
        // most the whole output error (equal here, as the Conv is the only node; the output row comes from
        // the optimized run, whose integer kernels round a little differently).
        Assert.Equal(report.Outputs[0].Sqnr, node.OwnSqnr, 3);
        Assert.Single(report.Tensors, t => t.Kind == TensorKind.Weight && t.Tensor == "W");
    }
}
