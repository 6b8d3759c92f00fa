using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Quantization.Provenance;
using EvoQuant.Targets;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Evaluation;

/// <summary>Speed-aware quantization: ONNX Runtime's per-node profile read and attributed to the float model's nodes
/// (real profiles, structure only: times depend on the machine), and the decision which nodes stay float, from
/// injected costs (no timing is asserted).</summary>
public class SpeedAwareTests
{
    private static IReadOnlyDictionary<string, NamedTensor> Batch(OnnxModel model, NamedTensor data, int rows) =>
        new Dictionary<string, NamedTensor> { [model.Inputs[0].Name] = data.SliceRows(0, rows).WithName(model.Inputs[0].Name) };

    [Fact]
    public void ParsesKernelEventsSkipsTheWarmUpAndTakesTheMedian()
    {
        const string json = """
            [{"cat":"Session","name":"model_run","dur":900},
             {"cat":"Node","name":"conv_fence_before","dur":1},
             {"cat":"Node","name":"conv_kernel_time","dur":50,"args":{"op_name":"Conv"}},
             {"cat":"Node","name":"conv_kernel_time","dur":10,"args":{"op_name":"Conv"}},
             {"cat":"Node","name":"relu_kernel_time","dur":3,"args":{"op_name":"Relu"}},
             {"cat":"Node","name":"conv_kernel_time","dur":30,"args":{"op_name":"Conv"}},
             {"cat":"Node","name":"relu_kernel_time","dur":5,"args":{"op_name":"Relu"}},
             {"cat":"Node","name":"conv_kernel_time","dur":20,"args":{"op_name":"Conv"}}]
            """;
        var p = RuntimeProfile.Parse(json, batchSize: 4, warmupRuns: 1);
        Assert.Equal(4, p.BatchSize);
        var conv = Assert.Single(p.Nodes, n => n.Node == "conv");
        Assert.Equal("Conv", conv.OpType);
        Assert.Equal(3, conv.Runs);
        Assert.Equal(20, conv.MedianMicroseconds); // 10, 30, 20 after the 50 of the warm-up
        var relu = Assert.Single(p.Nodes, n => n.Node == "relu");
        Assert.Equal(5, relu.MedianMicroseconds);
        Assert.Equal(2, p.Nodes.Count); // fences and session events are not kernels
        Assert.Throws<FormatException>(() => RuntimeProfile.Parse("{\"cat\":\"Node\"}", 1, 0));
        Assert.Throws<FormatException>(() => RuntimeProfile.Parse("[{", 1, 0));
    }

    [Fact]
    public void ARealProfileHasEveryKernelWithItsTensorsInTheOptimizedGraph()
    {
        var model = FashionWorkload.Model;
        var p = RuntimeProfiler.Profile(model, Batch(model, FashionWorkload.TestX, 2), warmupRuns: 1, runs: 3, threads: 1);
        Assert.Equal(2, p.BatchSize);
        Assert.Equal(3, p.Runs);
        Assert.NotEmpty(p.Nodes);
        Assert.All(p.Nodes, n =>
        {
            Assert.Equal(3, n.Runs);
            Assert.True(n.MedianMicroseconds >= 0);
            Assert.NotEmpty(n.OpType);
            Assert.NotEmpty(n.Outputs); // found in the graph ONNX Runtime wrote
        });
        Assert.Contains(p.Nodes, n => n.OpType.Contains("Conv", StringComparison.Ordinal));
        // The graph's last kernel writes the model's output.
        Assert.Contains(p.Nodes, n => n.Outputs.Contains(model.Outputs[0].Name));
    }

    [Fact]
    public void EveryRuntimeNodeOfFashionCnnIsAttributedToANodeOfTheFloatModel()
    {
        var model = FashionWorkload.Model;
        var q = FashionWorkload.Int8;
        AssertAttributed(model, q, Batch(model, FashionWorkload.TestX, 2));
    }

    [Fact]
    public void EveryRuntimeNodeOfThePaddleOcrClassifierIsAttributedToANodeOfTheFloatModel()
    {
        // Fused names of every kind: NCHWc Convs named after their output, QLinearConv "_token_N", reorders,
        // the NHWC transposes, standing Q/DQ, BatchNormalization folded by us and by ONNX Runtime.
        var model = OnnxModel.Load(TestData.Require(TestData.OcrCls));
        var (data, count) = TextLineCrops.Load();
        var crops = new NamedTensor(model.Inputs[0].Name, data, new long[] { count, 3, TextLineCrops.H, TextLineCrops.W });
        var table = Calibrator.Run(model, new object[] { crops.SliceRows(0, 8) }, new CalibrationOptions { Method = CalibrationMethod.MinMax });
        var q = ModelQuantizer.Quantize(model, TargetProfile.Resolve(QuantTarget.Host).StaticDefaults() with
            { ActivationRanges = QuantizationOptions.RangesOf(table), UseContribOps = true, PerChannel = true });
        var costs = AssertAttributed(model, q, Batch(model, crops, 1));
        // Each quantized Conv has its integer kernel's time, and its float Conv's.
        foreach (var p in q.Provenance!.Nodes.Values.Where(p => p.OpType == "Conv" && p.Outcome == NodeOutcome.Quantized))
        {
            var c = Assert.Single(costs.Nodes, n => n.SourceNode == p.SourceNode);
            Assert.True(c.FloatMicroseconds > 0 && c.QuantizedMicroseconds > 0, $"{c.Name}: {c.FloatMicroseconds} / {c.QuantizedMicroseconds} us");
        }
    }

    private static NodeCosts AssertAttributed(OnnxModel model, QuantizationResult q, IReadOnlyDictionary<string, NamedTensor> inputs)
    {
        var floatProfile = RuntimeProfiler.Profile(model, inputs, 1, 2, threads: 1);
        var quantizedProfile = RuntimeProfiler.Profile(q.Model, inputs, 1, 2, threads: 1);
        var costs = NodeCostAttribution.Attribute(model, floatProfile, q.Model, q.Provenance!, quantizedProfile);
        Assert.Empty(costs.Unattributed);
        var sourceNodes = model.Graph.Nodes.Select(n => n.Output[0]).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(floatProfile.Nodes.Count + quantizedProfile.Nodes.Count, costs.Owners.Count);
        Assert.All(quantizedProfile.Nodes, n => Assert.Contains(costs.Owners["quantized:" + n.Node], sourceNodes));
        Assert.All(floatProfile.Nodes, n => Assert.Contains(costs.Owners["float:" + n.Node], sourceNodes));
        // Every microsecond of both profiles is in some node's total.
        Assert.Equal(floatProfile.TotalMicroseconds, costs.Nodes.Sum(n => n.FloatMicroseconds), 6);
        Assert.Equal(quantizedProfile.TotalMicroseconds, costs.Nodes.Sum(n => n.QuantizedMicroseconds), 6);
        // A standing QuantizeLinear/DequantizeLinear goes to a node the rewrite quantized, or to a float node whose output
        // it converts (a Reshape between Q/DQ pairs).
        foreach (var n in quantizedProfile.Nodes.Where(n => n.OpType is "QuantizeLinear" or "DequantizeLinear"))
        {
            string owner = costs.Owners["quantized:" + n.Node];
            Assert.True(q.Provenance!.Nodes[owner].Outcome == NodeOutcome.Quantized || q.Provenance.Tensors.ContainsKey(owner), $"{n.Node} -> {owner}");
        }
        return costs;
    }

    // Decisions from injected costs: the provenance of fashion-cnn's int8 model says which nodes are quantized.
    private static SourceNodeCost Cost(string key, int batch, double floatUs, double quantUs) => new(key, key, "?", batch, floatUs, quantUs);

    private static NodeCosts Costs(int batch, params SourceNodeCost[] nodes) =>
        new(batch, nodes, new Dictionary<string, string>(), Array.Empty<string>());

    [Fact]
    public void ANodeSlowerQuantizedAtOneBatchSizeAndNoFasterAtTheOtherIsKeptFloat()
    {
        var model = FashionWorkload.Model;
        var prov = FashionWorkload.Int8.Provenance!;
        var graph = model.Graph;
        bool Quantized(global::EvoQuant.Onnx.Proto.NodeProto n) => prov.Nodes.TryGetValue(n.Output[0], out var p) && p.Outcome == NodeOutcome.Quantized;
        var plain = graph.Nodes.Where(n => Quantized(n) && n.OpType is not ("Conv" or "Gemm" or "MatMul")).Take(2).ToList();
        Assert.Equal(2, plain.Count);
        string slow = plain[0].Output[0], mixed = plain[1].Output[0];
        var costs = new[]
        {
            Costs(1, Cost(slow, 1, 10, 30), Cost(mixed, 1, 10, 30)),
            Costs(64, Cost(slow, 64, 100, 100), Cost(mixed, 64, 100, 50)), // mixed: twice as fast at batch 64
        };
        var decided = SpeedAwareQuantizer.Decide(model, costs, prov, new SpeedAwareOptions());
        var kept = Assert.Single(decided, d => d.SourceNode == slow);
        Assert.Contains("0.03 ms vs 0.01 ms float at batch 1", kept.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain(decided, d => d.SourceNode == mixed);

        // Within the margins (25% and 2 us) nothing is slower.
        var close = new[] { Costs(1, Cost(slow, 1, 10, 14)), Costs(64, Cost(slow, 64, 100, 100)) };
        Assert.Empty(SpeedAwareQuantizer.Decide(model, close, prov, new SpeedAwareOptions()));
        // A node with no float time of its own (fused into its neighbour by ONNX Runtime) is not judged alone.
        var fused = new[] { Costs(1, Cost(slow, 1, 0, 30)), Costs(64, Cost(slow, 64, 0, 30)) };
        Assert.Empty(SpeedAwareQuantizer.Decide(model, fused, prov, new SpeedAwareOptions()));
    }

    [Fact]
    public void AConvIsKeptFloatOnlyWhereItsInputStaysFloat()
    {
        // ONNX Runtime quantizes a float Conv that reads a DequantizeLinear itself: such a Conv is left quantized.
        var model = FashionWorkload.Model;
        var prov = FashionWorkload.Int8.Provenance!;
        var convs = model.Graph.Nodes.Where(n => n.OpType == "Conv" && prov.Nodes[n.Output[0]].Outcome == NodeOutcome.Quantized).ToList();
        var first = convs[0];
        Assert.Contains(first.Input[0], model.Inputs.Select(i => i.Name)); // reads the model's input
        var later = convs.First(c => model.Graph.Producer(c.Input[0]) is { } p && prov.Nodes.TryGetValue(prov.AbsorberOf(p.Output[0]), out var pp) && pp.Outcome == NodeOutcome.Quantized);
        var costs = new[] { Costs(1, Cost(first.Output[0], 1, 10, 40), Cost(later.Output[0], 1, 10, 40)) };
        var decided = SpeedAwareQuantizer.Decide(model, costs, prov, new SpeedAwareOptions { BatchSizes = new[] { 1 } });
        Assert.Contains(decided, d => d.SourceNode == first.Output[0]);
        Assert.DoesNotContain(decided, d => d.SourceNode == later.Output[0]);
        // What was folded into the first Conv (its Relu) stays float with it.
        foreach (var f in prov.Nodes.Values.Where(f => f.Outcome == NodeOutcome.Folded && f.OpType != "BatchNormalization" && prov.AbsorberOf(f.SourceNode) == first.Output[0]))
            Assert.Contains(decided, d => d.SourceNode == f.SourceNode && d.Reason.Contains("stays float", StringComparison.Ordinal));
    }

    [Fact]
    public void NodesKeptFloatByMeasurementAreFloatAndNamedInTheDecisions()
    {
        var model = FashionWorkload.Model;
        var prov = FashionWorkload.Int8.Provenance!;
        var first = model.Graph.Nodes.First(n => n.OpType == "Conv");
        var options = QuantizationOptions.Static(FashionWorkload.Ranges) with
            { KeepFloat = new Dictionary<string, string> { [first.Output[0]] = "slower quantized on this CPU (test)" } };
        var q = ModelQuantizer.Quantize(model, options);
        Assert.Contains(q.Skipped, s => s.Name == first.Name && s.Reason == "slower quantized on this CPU (test)");
        Assert.Contains($"kept float: {first.Name}, slower quantized on this CPU (test)", q.TargetDecisions);
        Assert.DoesNotContain(q.QuantizedNodes, n => n.Name == first.Name);
        Assert.Contains(FashionWorkload.Int8.QuantizedNodes, n => n.Name == first.Name);
        Assert.Equal(NodeOutcome.Quantized, prov.Nodes[first.Output[0]].Outcome);
    }

    [Fact]
    public void WithTheOptionOffNothingChanges()
    {
        var model = FashionWorkload.Model;
        var plain = ModelQuantizer.Quantize(model, QuantizationOptions.Static(FashionWorkload.Ranges));
        var off = ModelQuantizer.Quantize(model, QuantizationOptions.Static(FashionWorkload.Ranges) with
            { KeepSlowNodesFloat = false, SpeedAware = new SpeedAwareOptions { BatchSizes = new[] { 3 }, Margin = 0.5, Runs = 1 } });
        Assert.Equal(plain.Model.ToBytes(), off.Model.ToBytes());
        Assert.Equal(plain.TargetDecisions, off.TargetDecisions);
    }

    [Fact]
    public void TheOptionProfilesAndSaysWhatItDecided()
    {
        // Structure only: which nodes are slower depends on this CPU and its load.
        var model = FashionWorkload.Model;
        var options = TargetProfile.Resolve(QuantTarget.Host).StaticDefaults() with
        {
            ActivationRanges = FashionWorkload.Ranges,
            KeepSlowNodesFloat = true,
            SpeedAware = new SpeedAwareOptions { BatchSizes = new[] { 1, 4 }, WarmupRuns = 1, Runs = 3, Threads = 1, MaxRounds = 1,
                Samples = new object[] { FashionWorkload.TestX.SliceRows(0, 4) } },
        };
        var q = ModelQuantizer.Quantize(model, options);
        Assert.Contains(q.TargetDecisions, d => d.StartsWith("speed-aware: ", StringComparison.Ordinal) && d.Contains("batch 1 and 4", StringComparison.Ordinal));
        // Choices are confirmed by timing the whole model, or dropped; no choices, no timing.
        bool keptAny = q.TargetDecisions.Any(d => d.StartsWith("kept float: ", StringComparison.Ordinal));
        bool timed = q.TargetDecisions.Any(d => d.StartsWith("speed-aware: whole model ", StringComparison.Ordinal));
        bool dropped = q.TargetDecisions.Any(d => d.Contains("float node(s) dropped, the whole model timed slower", StringComparison.Ordinal));
        Assert.Equal(keptAny, timed);
        Assert.True(!dropped || !keptAny);
        foreach (var d in q.TargetDecisions.Where(d => d.StartsWith("kept float: ", StringComparison.Ordinal) && d.Contains("slower quantized", StringComparison.Ordinal)))
        {
            string name = d["kept float: ".Length..d.IndexOf(',', StringComparison.Ordinal)];
            Assert.Contains(q.Skipped, s => s.Name == name);
            Assert.DoesNotContain(q.QuantizedNodes, n => n.Name == name);
        }
        using var runner = new ModelRunner(q.Model, optimize: true); // the output runs
    }

    [Fact]
    public void TheOptionIsForStaticQuantizationOnTheHost()
    {
        var ranges = FashionWorkload.Ranges;
        var e = Assert.Throws<QuantizationOptionsException>(() => ModelQuantizer.Quantize(FashionWorkload.Model,
            QuantizationOptions.Static(ranges) with { KeepSlowNodesFloat = true, Target = QuantTarget.X64Vnni }));
        Assert.Equal(nameof(QuantizationOptions.KeepSlowNodesFloat), e.Option);
        e = Assert.Throws<QuantizationOptionsException>(() => ModelQuantizer.Quantize(FashionWorkload.Model,
            QuantizationOptions.Dynamic() with { KeepSlowNodesFloat = true }));
        Assert.Equal(nameof(QuantizationOptions.KeepSlowNodesFloat), e.Option);
        e = Assert.Throws<QuantizationOptionsException>(() => ModelQuantizer.Quantize(FashionWorkload.Model,
            QuantizationOptions.Static(ranges) with { KeepSlowNodesFloat = true, SpeedAware = new SpeedAwareOptions { BatchSizes = Array.Empty<int>() } }));
        Assert.StartsWith("SpeedAware", e.Option, StringComparison.Ordinal);
    }
}
