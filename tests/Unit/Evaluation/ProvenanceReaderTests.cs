using Xunit;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Quantization.Provenance;

namespace EvoQuant.Tests.Evaluation;

/// <summary>The provenance read back from a quantized graph: what the per-tensor comparison consumes when
/// the rewrite recorded none (another tool's model, a model loaded from disk).</summary>
public sealed class ProvenanceReaderTests
{
    public static TheoryData<string> Formats => new() { "QDQ", "QOperator", "Dynamic" };

    private static QuantizationResult Quantize(string format) => format switch
    {
        "QDQ" => FashionWorkload.Int8,
        "QOperator" => ModelQuantizer.Quantize(FashionWorkload.Model, QuantizationOptions.Static(FashionWorkload.Ranges) with { Format = QuantFormat.QOperator }),
        _ => ModelQuantizer.Quantize(FashionWorkload.Model, QuantizationOptions.Dynamic()),
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public void InferredProvenanceNamesExistingTensorsAndCoversEveryQuantizedNode(string format)
    {
        var q = Quantize(format);
        var rg = FashionWorkload.Model.Graph;
        var cg = q.Model.Graph;
        var p = ProvenanceReader.Infer(FashionWorkload.Model, q.Model);

        Assert.False(p.Recorded);
        bool InCandidate(string t) => cg.Producer(t) != null || cg.IsConstant(t) || cg.Proto.Input.Any(i => i.Name == t);
        bool InReference(string t) => rg.Producer(t) != null || rg.IsConstant(t) || rg.Proto.Input.Any(i => i.Name == t);
        Assert.NotEmpty(p.Tensors);
        foreach (var t in p.Tensors.Values)
        {
            Assert.True(InReference(t.SourceTensor), $"source {t.SourceTensor}");
            foreach (var name in new[] { t.QuantizedTensor, t.Scale, t.ZeroPoint, t.DequantizedTensor }.OfType<string>())
                Assert.True(InCandidate(name), $"{t.SourceTensor}: '{name}' is not in the quantized model");
        }
        foreach (var (source, output) in p.Renames) Assert.True(InReference(source) && InCandidate(output), $"{source} -> {output}");
        Assert.All(p.Nodes.Values, n => Assert.All(n.EmittedNodes, e => Assert.NotNull(cg.Producer(e))));

        // Every node the quantizer reports as quantized is paired, as quantized, with what computes it (or folded into such a node).
        Assert.NotEmpty(q.QuantizedNodes);
        foreach (var node in q.QuantizedNodes)
        {
            var r = Assert.Single(rg.Nodes, n => n.Name == node.Name);
            Assert.True(p.Nodes.TryGetValue(ProvenanceReader.SourceId(r), out var np), $"{node} has no provenance");
            // A Relu the quantizer removed counts as quantized: its producer's output quantization applies it.
            if (np!.Outcome == NodeOutcome.Folded)
                Assert.Equal(NodeOutcome.Quantized, p.Nodes[np.FoldedInto!].Outcome);
            else
            {
                Assert.Equal(NodeOutcome.Quantized, np.Outcome);
                Assert.NotEmpty(np.EmittedNodes);
            }
        }
        // And every weighted one has its weight's integer form and scale.
        foreach (var r in rg.Nodes.Where(n => n.OpType is "Conv" or "Gemm" or "MatMul" && q.QuantizedNodes.Any(x => x.Name == n.Name)))
        {
            var w = p.Tensors[r.Input[1]];
            Assert.Equal(ProvenanceKind.Weight, w.Kind);
            Assert.NotNull(cg.GetConstant(w.QuantizedTensor!));
            Assert.NotNull(w.Scale);
        }
    }

    [Theory]
    [InlineData("QDQ")]
    [InlineData("QOperator")]
    public void RenamedTensorsAndNamelessNodesGiveTheSameReport(string format)
    {
        var q = Quantize(format);
        var renamed = Anonymize(q.Model);
        var (items, _) = FashionWorkload.TestSubset(64);
        var options = new ComparisonOptions { PerTensor = true, CheckKernels = false };

        var expected = AccuracyComparer.Compare(FashionWorkload.Model, q.Model, items, options);
        var actual = AccuracyComparer.Compare(FashionWorkload.Model, renamed, items, options);

        Assert.Empty(actual.Notes);
        Assert.Equal(Rows(expected), Rows(actual));
        Assert.Equal(expected.Nodes.Select(n => (n.Node, Math.Round(n.OwnSqnr, 6), n.OutputQdqSqnr is double o ? Math.Round(o, 6) : (double?)null)).OrderBy(x => x.Node),
            actual.Nodes.Select(n => (n.Node, Math.Round(n.OwnSqnr, 6), n.OutputQdqSqnr is double o ? Math.Round(o, 6) : (double?)null)).OrderBy(x => x.Node));
        Assert.Contains(actual.Tensors, t => t.Kind == TensorKind.Weight);
        Assert.Contains(actual.Nodes, n => n.OpType == "Conv");

        static List<string> Rows(AccuracyReport r) => r.Tensors
            .Select(t => $"{t.Kind} {t.Tensor} {t.Node} {t.OpType} {t.Sqnr:F6} {t.QuantRangeMin:F6} {t.QdqSqnr:F6}").OrderBy(s => s, StringComparer.Ordinal).ToList();
    }

    /// <summary>Every node nameless, every tensor but the graph's inputs and outputs named "v{n}" in a shuffled
    /// order: nothing of the quantizer's naming survives.</summary>
    private static OnnxModel Anonymize(OnnxModel model)
    {
        var proto = model.CloneProto();
        var g = proto.Graph;
        var keep = g.Input.Select(i => i.Name).Concat(g.Output.Select(o => o.Name)).ToHashSet(StringComparer.Ordinal);
        var names = g.Node.SelectMany(n => n.Input.Concat(n.Output)).Concat(g.Initializer.Select(i => i.Name))
            .Where(n => n.Length > 0 && !keep.Contains(n)).Distinct().ToList();
        var rng = new Random(3);
        var map = names.OrderBy(_ => rng.Next()).Select((n, i) => (n, i)).ToDictionary(x => x.n, x => $"v{x.i}", StringComparer.Ordinal);
        string Map(string n) => map.GetValueOrDefault(n, n);
        foreach (var n in g.Node)
        {
            n.Name = "";
            for (int i = 0; i < n.Input.Count; i++) n.Input[i] = Map(n.Input[i]);
            for (int i = 0; i < n.Output.Count; i++) n.Output[i] = Map(n.Output[i]);
        }
        foreach (var t in g.Initializer) t.Name = Map(t.Name);
        foreach (var v in g.ValueInfo) v.Name = Map(v.Name);
        foreach (var i in g.Input) i.Name = Map(i.Name);
        Assert.DoesNotContain(g.Node, n => n.Output.Any(o => o.Contains("quant", StringComparison.Ordinal)));
        return model.With(proto);
    }

    [Theory]
    [InlineData(QuantFormat.QDQ)]
    [InlineData(QuantFormat.QOperator)]
    public void PlanWorkGrowsLinearlyWithTheGraph(QuantFormat format)
    {
        long Steps(int blocks)
        {
            var (model, ranges) = Chain(blocks);
            var q = ModelQuantizer.Quantize(model, QuantizationOptions.Static(ranges) with { Format = format });
            var work = new WorkCounter();
            var plan = PerTensorPlan.Build(model, q.Model, null, work);
            Assert.Equal(blocks, plan.Branches.Count(b => b.OpType == "Conv"));
            Assert.Equal(blocks, plan.Weights.Count(w => w.OpType == "Conv" && w.Tensor.StartsWith('w')));
            return work.Steps;
        }
        long small = Steps(750), large = Steps(1500);
        // Linear: twice the nodes, about twice the steps (a rescan per node would make it four times).
        Assert.InRange((double)large / small, 1.8, 2.4);
    }

    /// <summary>x -> [Conv 1x1 -> Relu -> Add(residual)] x blocks: 3 nodes per block, every block reading the
    /// previous one twice, so a per-node rescan of the graph would show.</summary>
    private static (OnnxModel, Dictionary<string, ActivationRange>) Chain(int blocks)
    {
        var g = new GraphProto { Name = "chain" };
        g.Input.Add(HandBuilt.Input("x", ElementTypes.Float));
        var ranges = new Dictionary<string, ActivationRange>(StringComparer.Ordinal) { ["x"] = new(-1, 1) };
        var rng = new Random(5);
        string prev = "x";
        for (int i = 0; i < blocks; i++)
        {
            var w = Enumerable.Range(0, 4).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            g.Initializer.Add(TensorData.FromFloats($"w{i}", new long[] { 2, 2, 1, 1 }, w));
            g.Node.Add(HandBuilt.Node("Conv", $"conv{i}", new[] { prev, $"w{i}" }, $"c{i}"));
            g.Node.Add(HandBuilt.Node("Relu", $"relu{i}", new[] { $"c{i}" }, $"r{i}"));
            g.Node.Add(HandBuilt.Node("Add", $"add{i}", new[] { $"r{i}", prev }, $"a{i}"));
            foreach (var t in new[] { $"c{i}", $"r{i}", $"a{i}" }) ranges[t] = new(-2, 2);
            prev = $"a{i}";
        }
        g.Output.Add(new ValueInfoProto { Name = prev, Type = HandBuilt.TensorType(ElementTypes.Float) });
        return (HandBuilt.Model(g), ranges);
    }

    [Fact]
    public void DynamicResultIsAnalysedPerTensor()
    {
        var q = ModelQuantizer.Quantize(FashionWorkload.Model, QuantizationOptions.Dynamic());
        var (items, labels) = FashionWorkload.TestSubset(100);

        var report = AccuracyComparer.Compare(FashionWorkload.Model, q.Model, items,
            new ComparisonOptions { PerTensor = true, Labels = labels, Provenance = q.Provenance });

        Assert.Empty(report.Notes);
        var quantized = q.QuantizedNodes.Select(n => n.Name).ToHashSet();
        Assert.NotEmpty(quantized);
        // Every quantized node re-run alone (DynamicQuantizeLinear, the integer op, its rescaling), named as in the float model.
        Assert.Equal(quantized.OrderBy(n => n), report.Nodes.Select(n => n.Node).OrderBy(n => n));
        Assert.All(report.Nodes, n => Assert.True(n.OwnSqnr is > 15 and < 80, $"{n.Node}: {n.OwnSqnr:F1} dB"));
        var weights = report.Tensors.Where(t => t.Kind == TensorKind.Weight).ToList();
        Assert.NotEmpty(weights);
        Assert.All(weights, w => Assert.True(w.Sqnr is > 25 and < 80, $"{w.Tensor}: {w.Sqnr:F1} dB"));
        Assert.Contains(report.Tensors, t => t.Kind == TensorKind.Activation && t.OpType == "Conv");
    }
}
