using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Targets;
using EvoQuant.Tests.Quantization.Helpers;
using EvoQuant.Tests.Support;
using Xunit;
using static EvoQuant.Tests.Quantization.Helpers.TinyModels;

namespace EvoQuant.Tests.Quantization;

/// <summary>Finding a transformer's feed-forward down projections by shape and data flow, and the dynamic
/// defaults keeping the first one float.</summary>
public class FeedForwardProjectionsTests
{
    private static QuantizationOptions HostDynamic => TargetProfile.Resolve(QuantTarget.Host).DynamicDefaults();

    /// <summary>x [1, 4] through <paramref name="blocks"/> residual blocks x + Wdown(act(Wup x + b)), Wup [4, 16],
    /// Wdown [16, 4]; then a head [4, 16] that widens and is not followed by a down projection.</summary>
    private static OnnxModel Stack(int blocks, string activation = "Relu")
    {
        var g = new GraphProto { Name = "stack" };
        g.Input.Add(Float("x", 1, 4));
        string x = "x";
        for (int i = 0; i < blocks; i++)
        {
            g.Initializer.Add(TensorData.FromFloats($"up{i}", new long[] { 4, 16 }, Random(64, 10 + i)));
            g.Initializer.Add(TensorData.FromFloats($"b{i}", new long[] { 16 }, Random(16, 20 + i)));
            g.Initializer.Add(TensorData.FromFloats($"down{i}", new long[] { 16, 4 }, Random(64, 30 + i)));
            g.Node.Add(Node("MatMul", new[] { x, $"up{i}" }, new[] { $"h{i}" }, $"Up{i}"));
            g.Node.Add(Node("Add", new[] { $"h{i}", $"b{i}" }, new[] { $"hb{i}" }, $"Bias{i}"));
            g.Node.Add(Node(activation, new[] { $"hb{i}" }, new[] { $"a{i}" }, $"Act{i}"));
            g.Node.Add(Node("MatMul", new[] { $"a{i}", $"down{i}" }, new[] { $"d{i}" }, $"Down{i}"));
            g.Node.Add(Node("Add", new[] { x, $"d{i}" }, new[] { $"r{i}" }, $"Residual{i}"));
            x = $"r{i}";
        }
        g.Initializer.Add(TensorData.FromFloats("head", new long[] { 4, 16 }, Random(64, 99)));
        g.Node.Add(Node("MatMul", new[] { x, "head" }, new[] { "y" }, "Head"));
        g.Output.Add(Float("y", 1, 16));
        return Model(g);
    }

    [Fact]
    public void DownProjections_AreTheNarrowingMatMulsAfterAWideningOne_InOrder()
    {
        var graph = new GraphView(Stack(3, "Sigmoid").Proto.Graph);
        Assert.Equal(new[] { "Down0", "Down1", "Down2" }, FeedForwardProjections.DownProjections(graph).Select(n => n.Name));
        Assert.Equal("Down0", FeedForwardProjections.FirstOfStack(graph)?.Name);
    }

    [Fact]
    public void OneBlock_IsNoStack_AndANarrowingMatMulWithoutAnUpProjection_IsNoDownProjection()
    {
        Assert.Null(FeedForwardProjections.FirstOfStack(new GraphView(Stack(1).Proto.Graph)));

        // A [16, 4] MatMul straight on a 16-wide input: it narrows, but nothing widened before it.
        var g = new GraphProto { Name = "narrow" };
        g.Input.Add(Float("x", 1, 16));
        g.Initializer.Add(TensorData.FromFloats("w", new long[] { 16, 4 }, Random(64, 1)));
        g.Node.Add(Node("Relu", new[] { "x" }, new[] { "a" }, "Act"));
        g.Node.Add(Node("MatMul", new[] { "a", "w" }, new[] { "y" }, "Narrow"));
        g.Output.Add(Float("y", 1, 4));
        Assert.Empty(FeedForwardProjections.DownProjections(new GraphView(g)));
    }

    [Fact]
    public void DynamicDefaults_KeepTheFirstDownProjectionFloat_SayWhy_AndIncludeNodesOverrides()
    {
        var model = Stack(2);
        var result = ModelQuantizer.Quantize(model, HostDynamic);
        var skipped = Assert.Single(result.Skipped, s => s.Name == "Down0");
        Assert.Contains("first feed-forward down projection", skipped.Reason);
        Assert.Contains(result.QuantizedNodes, n => n.Name == "Down1");
        Assert.Contains(result.TargetDecisions, d => d.Contains("Down0", StringComparison.Ordinal));
        Assert.Contains(result.Model.Proto.Graph.Node, n => n.Name == "Down0" && n.OpType == "MatMul");

        var named = ModelQuantizer.Quantize(model, HostDynamic with { IncludeNodes = new[] { "*" } });
        Assert.Contains(named.QuantizedNodes, n => n.Name == "Down0");
        var off = ModelQuantizer.Quantize(model, HostDynamic with { KeepFirstDownProjectionFloat = false });
        Assert.Contains(off.QuantizedNodes, n => n.Name == "Down0");
    }

    [Fact]
    public void StaticDefaults_KeepItFloatToo()
    {
        var model = Stack(2);
        var ranges = model.Proto.Graph.Node.SelectMany(n => n.Input.Concat(n.Output)).Distinct()
            .Where(t => !model.Proto.Graph.Initializer.Any(i => i.Name == t))
            .ToDictionary(t => t, _ => new ActivationRange(-10f, 10f));
        var options = TargetProfile.Resolve(QuantTarget.Host).StaticDefaults() with { ActivationRanges = ranges };
        var result = ModelQuantizer.Quantize(model, options);
        Assert.Contains(result.Skipped, s => s.Name == "Down0" && s.Reason.Contains("first feed-forward down projection", StringComparison.Ordinal));
        Assert.Contains(result.QuantizedNodes, n => n.Name == "Down1");
        Assert.Contains(result.TargetDecisions, d => d.StartsWith("kept float: Down0", StringComparison.Ordinal));
    }

    [Fact]
    [Trait("Category", "TestData")]
    public void RealEncoders_HaveOneDownProjectionPerLayer_WeightsOfFourTimesTheHiddenWidth()
    {
        foreach (var path in new[] { TestData.MiniLm, TestData.ArcticXs })
        {
            var graph = new GraphView(OnnxModel.Load(TestData.Require(path)).Proto.Graph);
            var down = FeedForwardProjections.DownProjections(graph);
            Assert.Equal(6, down.Count);
            Assert.All(down, n => Assert.Equal(new long[] { 1536, 384 }, graph.GetConstant(n.Input[1])!.Dims));
            Assert.Same(down[0], FeedForwardProjections.FirstOfStack(graph));
            // The first in execution order: every other one runs after it.
            var order = graph.Nodes.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i);
            Assert.All(down.Skip(1), n => Assert.True(order[n] > order[down[0]]));
        }
    }
}
