using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Tests.Support;

/// <summary>The pathological graph shapes of issue 16, built in memory at any size (shared with the
/// bench's <c>big-graphs</c> entry): many unused initializers, a long Relu chain, many tiny MatMuls.
/// Each takes one float input "x" of shape [1, 4] and gives one output "y".</summary>
internal static class LargeGraphs
{
    public const int Width = 4;

    /// <summary>One MatMul (weight "w") followed by <paramref name="unused"/> initializers no node reads.</summary>
    public static OnnxModel UnusedInitializers(int unused)
    {
        var g = Graph();
        g.Initializer.Add(TensorData.FromFloats("w", new long[] { Width, Width }, Weights(0)));
        g.Node.Add(Node("MatMul", "mm", new[] { "x", "w" }, "y"));
        for (int i = 0; i < unused; i++)
            g.Initializer.Add(TensorData.FromFloats($"unused_{i}", new long[] { 1 }, new[] { i * 0.001f }));
        return Model(g);
    }

    /// <summary>One MatMul ("w") then a chain of <paramref name="count"/> Relu nodes.</summary>
    public static OnnxModel ReluChain(int count)
    {
        var g = Graph();
        g.Initializer.Add(TensorData.FromFloats("w", new long[] { Width, Width }, Weights(0)));
        g.Node.Add(Node("MatMul", "mm", new[] { "x", "w" }, count == 0 ? "y" : "r0"));
        for (int i = 0; i < count; i++)
            g.Node.Add(Node("Relu", $"relu_{i}", new[] { $"r{i}" }, i == count - 1 ? "y" : $"r{i + 1}"));
        return Model(g);
    }

    /// <summary>A chain of <paramref name="count"/> MatMuls, each with its own [4, 4] weight "w_i".</summary>
    public static OnnxModel MatMulChain(int count)
    {
        var g = Graph();
        for (int i = 0; i < count; i++)
        {
            g.Initializer.Add(TensorData.FromFloats($"w_{i}", new long[] { Width, Width }, Weights(i)));
            g.Node.Add(Node("MatMul", $"mm_{i}", new[] { i == 0 ? "x" : $"h{i}", $"w_{i}" }, i == count - 1 ? "y" : $"h{i + 1}"));
        }
        return Model(g);
    }

    /// <summary>The input all three graphs take: one row of <see cref="Width"/> floats.</summary>
    public static EvoQuant.Data.NamedTensor Input() =>
        new("x", new[] { 0.5f, -0.25f, 1f, 0.125f }, new long[] { 1, Width });

    // Near-orthogonal weights keep a long chain's values in range (no blow-up or vanishing to zero).
    private static float[] Weights(int seed)
    {
        var w = new float[Width * Width];
        for (int r = 0; r < Width; r++)
            for (int c = 0; c < Width; c++)
                w[r * Width + c] = r == (c + seed) % Width ? 0.9f : ((r * 7 + c * 3 + seed) % 5 - 2) * 0.01f;
        return w;
    }

    private static GraphProto Graph()
    {
        var g = new GraphProto { Name = "big" };
        g.Input.Add(Float("x"));
        g.Output.Add(Float("y"));
        return g;
    }

    private static NodeProto Node(string op, string name, string[] inputs, string output)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.AddRange(inputs);
        n.Output.Add(output);
        return n;
    }

    private static ValueInfoProto Float(string name)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = 1 });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = Width });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = ElementTypes.Float, Shape = shape } } };
    }

    private static OnnxModel Model(GraphProto graph)
    {
        var m = new ModelProto { IrVersion = 8, Graph = graph };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return new OnnxModel(m);
    }
}
