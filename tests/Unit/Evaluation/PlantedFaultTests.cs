using Xunit;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using Xunit.Abstractions;

namespace EvoQuant.Tests.Evaluation;

/// <summary>A quantized Fashion CNN with one tensor's scale made 100x too small: the per-tensor analysis
/// must rank the node producing that tensor first and suggest keeping it in float.</summary>
public sealed class PlantedFaultTests(ITestOutputHelper output)
{
    [Fact]
    public void DamagedScaleIsRankedFirstAndSuggested()
    {
        var int8 = FashionWorkload.Int8.Model;
        var (damaged, victim) = DamageOutputScale(int8, nodeIndex: 6);
        var (items, _) = FashionWorkload.TestSubset(300);

        var report = AccuracyComparer.Compare(FashionWorkload.Model, damaged, items, new ComparisonOptions { PerTensor = true });

        foreach (var n in report.Nodes.Take(5)) output.WriteLine($"{n.Node} ({n.OpType}) own {n.OwnSqnr:F1} dB, accumulated {n.AccumulatedSqnr:F1} dB");
        output.WriteLine($"victim {victim}; suggestion: {string.Join(", ", report.Suggestion.ExcludeNode)}");
        Assert.Equal(victim, report.Nodes[0].Node);
        Assert.Equal(victim, report.Summary.WorstNode);
        Assert.Equal(victim, report.Suggestion.ExcludeNode[0]);
        // The damage is far below the other nodes' own errors, not a close call.
        Assert.True(report.Nodes[0].OwnSqnr + 10 < report.Nodes[1].OwnSqnr, $"{report.Nodes[0].OwnSqnr} vs {report.Nodes[1].OwnSqnr}");
    }

    [Fact]
    public void UndamagedModelHasNoNodeAnywhereNearTheFault()
    {
        var (items, _) = FashionWorkload.TestSubset(300);
        var report = AccuracyComparer.Compare(FashionWorkload.Model, FashionWorkload.Int8.Model, items, new ComparisonOptions { PerTensor = true });
        foreach (var n in report.Nodes.Take(5)) output.WriteLine($"{n.Node} ({n.OpType}) own {n.OwnSqnr:F1} dB, accumulated {n.AccumulatedSqnr:F1} dB");
        foreach (var t in report.Tensors.Take(5)) output.WriteLine($"{t.Tensor} [{t.Kind}] {t.Sqnr:F1} dB ({t.Node})");
        Assert.Empty(report.Notes);
        Assert.NotEmpty(report.Nodes);
        Assert.All(report.Nodes, n => Assert.True(n.OwnSqnr > 15, $"{n.Node}: {n.OwnSqnr} dB"));
        Assert.Contains(report.Tensors, t => t.Kind == TensorKind.Weight);
        Assert.Contains(report.Tensors, t => t.Kind == TensorKind.Activation && t.QuantRangeMin != null);
    }

    /// <summary>Divides by 100 the scale of the QuantizeLinear/DequantizeLinear pair on the output of the
    /// <paramref name="nodeIndex"/>-th quantized Conv, found by structure (Conv output -> QuantizeLinear).</summary>
    internal static (OnnxModel Model, string Node) DamageOutputScale(OnnxModel model, int nodeIndex)
    {
        var proto = model.CloneProto();
        var g = new GraphView(proto.Graph);
        var convs = g.Nodes.Where(n => n.OpType == "Conv" && g.Consumers(n.Output[0]).Any(c => c.OpType == "QuantizeLinear")).ToList();
        var conv = convs[nodeIndex];
        var q = g.Consumers(conv.Output[0]).First(c => c.OpType == "QuantizeLinear");
        var scale = proto.Graph.Initializer.Single(t => t.Name == q.Input[1]);
        float s = TensorData.ToFloatArray(scale)[0];
        var replacement = TensorData.FromFloats(scale.Name, scale.Dims.ToArray(), new[] { s / 100 });
        proto.Graph.Initializer.Remove(scale);
        proto.Graph.Initializer.Add(replacement);
        return (model.With(proto), conv.Name);
    }
}
