using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Quantization.Provenance;
using EvoQuant.Tests.Evaluation;
using EvoQuant.Tests.Quantization.Helpers;
using Xunit;

namespace EvoQuant.Tests.Quantization;

/// <summary>The provenance each rewrite records, checked against the model it wrote (fashion-cnn, all three
/// formats): every name it gives exists in the output, every QDQ dequantized tensor is a DequantizeLinear of
/// the quantized tensor, axes match the scale's length, quantized nodes name emitted nodes that exist, and the
/// float model's nodes are all accounted for.</summary>
public sealed class ProvenanceTests
{
    public static TheoryData<string> Formats => new() { "QDQ", "QOperator", "Dynamic" };

    private static QuantizationResult Quantize(string format, EvoQuant.Targets.SaturationGuard? guard = null) => format switch
    {
        "Dynamic" => ModelQuantizer.Quantize(FashionData.Model, QuantizationOptions.Dynamic() with { OpTypes = new[] { "Conv", "MatMul", "Gemm" }, PerChannel = true, WeightSaturation = guard }),
        _ => ModelQuantizer.Quantize(FashionData.Model, QuantizationOptions.Static(FashionData.Ranges) with { Format = Enum.Parse<QuantFormat>(format), PerChannel = true, WeightSaturation = guard }),
    };

    /// <summary>The target's pair-safe decision is recorded on each weight it changed, as many as the result's
    /// decisions count; with the guard off, none.</summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void PairSafeDecisionsAreRecordedOnTheWeightsTheyChanged(string format)
    {
        var safe = Quantize(format, EvoQuant.Targets.SaturationGuard.PairSafe);
        var line = Assert.Single(safe.TargetDecisions, d => d.StartsWith("weights pair-safe:"));
        int adjusted = int.Parse(System.Text.RegularExpressions.Regex.Match(line, @"pair-safe: (\d+) of").Groups[1].Value);
        Assert.Equal(adjusted, safe.Provenance!.Tensors.Values.Count(t => t.Decision?.StartsWith("pair-safe") == true));
        var none = Quantize(format, EvoQuant.Targets.SaturationGuard.None);
        Assert.DoesNotContain(none.Provenance!.Tensors.Values, t => t.Decision?.StartsWith("pair-safe") == true);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void EveryRecordedNameExistsInTheOutput(string format)
    {
        var result = Quantize(format);
        var p = result.Provenance;
        Assert.NotNull(p);
        Assert.True(p!.Recorded);
        var g = result.Model.Proto.Graph;
        var initializers = g.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var produced = g.Node.SelectMany(n => n.Output).Concat(g.Input.Select(i => i.Name)).Concat(initializers.Keys).ToHashSet(StringComparer.Ordinal);
        var producer = g.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(x => x.o, x => x.n, StringComparer.Ordinal);

        Assert.NotEmpty(p.Tensors);
        foreach (var t in p.Tensors.Values)
        {
            foreach (var name in new[] { t.QuantizedTensor, t.Scale, t.ZeroPoint, t.DequantizedTensor })
                if (name != null) Assert.True(produced.Contains(name), $"{format}: '{name}' of '{t.SourceTensor}' is not in the output");
            if (t.SharedWith != null) Assert.True(p.Tensors.ContainsKey(t.SharedWith), $"{format}: '{t.SourceTensor}' shares the parameters of unrecorded '{t.SharedWith}'");
            if (t.Scale != null && initializers.TryGetValue(t.Scale, out var scale))
            {
                long count = scale.Dims.Aggregate(1L, (a, b) => a * b);
                if (t.Axis is int axis)
                {
                    var q = initializers[t.QuantizedTensor!];
                    Assert.Equal(q.Dims[axis], count);
                }
                else Assert.Equal(1, count);
            }
            if (format == "QDQ" && t.DequantizedTensor != null)
            {
                var dq = producer[t.DequantizedTensor];
                Assert.Equal("DequantizeLinear", dq.OpType);
                Assert.Equal(t.QuantizedTensor, dq.Input[0]);
                Assert.Equal(t.Scale, dq.Input[1]);
            }
        }

        var outputs = g.Node.Select(n => n.Output[0]).ToHashSet(StringComparer.Ordinal);
        foreach (var n in p.Nodes.Values.Where(n => n.Outcome == NodeOutcome.Quantized))
        {
            Assert.NotEmpty(n.EmittedNodes);
            foreach (var e in n.EmittedNodes) Assert.True(outputs.Contains(e), $"{format}: node '{e}' emitted for '{n.SourceNode}' is not in the output");
        }
        foreach (var n in p.Nodes.Values.Where(n => n.Outcome == NodeOutcome.Folded))
            Assert.True(n.FoldedInto == null || p.Nodes.ContainsKey(n.FoldedInto), $"{format}: '{n.SourceNode}' folded into unrecorded '{n.FoldedInto}'");

        // Every computing node of the float model is accounted for, under its own first output.
        var source = FashionData.Model.Proto.Graph.Node.Where(n => n.OpType != "Constant").Select(n => n.Output[0]).ToList();
        var missing = source.Where(s => !p.Nodes.ContainsKey(s)).ToList();
        Assert.True(missing.Count == 0, $"{format}: no provenance for {string.Join(", ", missing)}");
        // The result lists folded Relu/Clip among the quantized nodes (their range is quantized).
        Assert.Equal(result.QuantizedNodes.Count, p.Nodes.Values.Count(n => n.Outcome == NodeOutcome.Quantized || (n.Outcome == NodeOutcome.Folded && n.OpType is "Relu" or "Clip")));
    }

    /// <summary>Conv -> BatchNormalization -> Relu -> GlobalAveragePool: the normalization folds into the Conv
    /// before planning, the Relu into the Conv's quantization; both are recorded as folded into the Conv, which is
    /// known by its own output in the float model, and the Relu's input is renamed to its output.</summary>
    [Theory]
    [InlineData(QuantFormat.QDQ)]
    [InlineData(QuantFormat.QOperator)]
    public void FoldedNodesPointAtTheConvThatAbsorbedThem(QuantFormat format)
    {
        const int C = 3, M = 4, S = 6;
        var g = new GraphProto { Name = "fold" };
        g.Input.Add(TinyModels.Float("x", -1, C, S, S));
        g.Output.Add(TinyModels.Float("y", -1, M, 1, 1));
        g.Initializer.Add(TensorData.FromFloats("w", new long[] { M, C, 3, 3 }, TinyModels.Random(M * C * 9, 1, 0.3f)));
        g.Initializer.Add(TensorData.FromFloats("b", new long[] { M }, TinyModels.Random(M, 2, 0.1f)));
        g.Initializer.Add(TensorData.FromFloats("gamma", new long[] { M }, new[] { 1.5f, 0.5f, 1f, 2f }));
        g.Initializer.Add(TensorData.FromFloats("beta", new long[] { M }, new[] { 0.1f, -0.2f, 0.3f, 0f }));
        g.Initializer.Add(TensorData.FromFloats("mean", new long[] { M }, new[] { 0.05f, 0f, -0.1f, 0.2f }));
        g.Initializer.Add(TensorData.FromFloats("var", new long[] { M }, new[] { 1f, 0.5f, 2f, 1.5f }));
        g.Node.Add(TinyModels.Node("Conv", new[] { "x", "w", "b" }, new[] { "c" }, "conv"));
        g.Node.Add(TinyModels.Node("BatchNormalization", new[] { "c", "gamma", "beta", "mean", "var" }, new[] { "n" }, "bn"));
        g.Node.Add(TinyModels.Node("Relu", new[] { "n" }, new[] { "r" }, "relu"));
        g.Node.Add(TinyModels.Node("GlobalAveragePool", new[] { "r" }, new[] { "y" }, "gap"));
        var model = TinyModels.Model(g);
        var x = TinyModels.Random(4 * C * S * S, 3, 2f);
        var ranges = MinMaxRanges.Measure(model, new[] { new Dictionary<string, Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>> { ["x"] = new(x, new[] { 4, C, S, S }) } });

        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Static(ranges) with { Format = format, FoldBatchNormalization = true });
        var p = result.Provenance!;
        Assert.Equal(NodeOutcome.Quantized, p.Nodes["c"].Outcome);
        Assert.Equal(NodeOutcome.Folded, p.Nodes["n"].Outcome);
        Assert.Equal("c", p.Nodes["n"].FoldedInto);
        Assert.Equal(NodeOutcome.Folded, p.Nodes["r"].Outcome);
        Assert.Equal("c", p.Nodes["r"].FoldedInto);
        Assert.Equal(NodeOutcome.Quantized, p.Nodes["y"].Outcome);
        // The Conv now writes the Relu's output: the normalization's output is known there by that name.
        Assert.Equal("r", p.OutputNameOf("n"));
        var names = result.Model.Proto.Graph.Node.SelectMany(n => n.Output).ToHashSet(StringComparer.Ordinal);
        Assert.DoesNotContain("n", names);
        Assert.Contains(p.Nodes["c"].EmittedNodes.Single(), names);
        // Folded weights are new values, recorded under the names the folding gave them (not the float model's w and b).
        Assert.Equal(ProvenanceKind.Weight, p.Tensors["n_folded_weight"].Kind);
        Assert.Equal(ProvenanceKind.Bias, p.Tensors["n_folded_bias"].Kind);
        Assert.False(p.Tensors.ContainsKey("w"));
    }

    /// <summary>Compare-QuantAccuracy takes the reference from the result: a dynamic result carries it too.</summary>
    [Fact]
    public void DynamicResultCarriesItsSourceModelForComparison()
    {
        var result = Quantize("Dynamic");
        Assert.Same(FashionData.Model, result.SourceModel);
        var (items, _) = FashionWorkload.TestSubset(64);
        var report = AccuracyComparer.Compare(result.SourceModel!, result.Model, items);
        Assert.Equal(64, report.Summary.Rows);
    }

    /// <summary>A Clip whose range cannot fold has no integer form in QOperator: the rewrite leaves it float and
    /// says so in the provenance and the result, without touching the plan it was given.</summary>
    [Fact]
    public void QOperatorLeavesThePlanAsGivenWhenANodeStaysFloat()
    {
        var g = new GraphProto { Name = "clip" };
        g.Input.Add(TinyModels.Float("x", 1, 8));
        g.Output.Add(TinyModels.Float("y", 1, 8));
        g.Initializer.Add(TensorData.FromFloats("lo", Array.Empty<long>(), new[] { -0.5f }));
        g.Initializer.Add(TensorData.FromFloats("hi", Array.Empty<long>(), new[] { 0.5f }));
        g.Node.Add(TinyModels.Node("Clip", new[] { "x", "lo", "hi" }, new[] { "c" }, "clip"));
        g.Node.Add(TinyModels.Node("Sigmoid", new[] { "c" }, new[] { "y" }, "sigmoid"));
        var model = TinyModels.Model(g);
        var options = QuantizationOptions.Static(new Dictionary<string, ActivationRange> { ["x"] = new(-1, 1), ["c"] = new(-0.5f, 0.5f) }) with { Format = QuantFormat.QOperator };

        var context = new QuantizationContext(model, options);
        var (plan, _) = QuantizationPlanner.Build(context, OpQuantizerRegistry.Default);
        var planned = plan.QuantizedNodes.ToList();
        var rewriter = new EvoQuant.Quantization.QOperator.QOperatorRewriter(context, plan, ActivationParamsResolver.Resolve(context, plan), new List<string>());
        rewriter.Rewrite(CancellationToken.None);
        Assert.Equal(planned, plan.QuantizedNodes);
        Assert.Equal("clip", Assert.Single(rewriter.LeftFloat).Name);
        Assert.Equal(NodeOutcome.Float, rewriter.Provenance.Nodes["c"].Outcome);
        Assert.Equal(NodeOutcome.Quantized, rewriter.Provenance.Nodes["y"].Outcome);

        var result = ModelQuantizer.Quantize(model, options);
        Assert.Equal(new[] { "sigmoid" }, result.QuantizedNodes.Select(n => n.Name));
    }
}
