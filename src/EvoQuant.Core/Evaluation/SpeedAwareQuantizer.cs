using System.Globalization;
using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Quantization.Provenance;

namespace EvoQuant.Evaluation;

/// <summary>A node the profiles showed slower quantized than float.</summary>
/// <param name="SourceNode">Its first output in the float model.</param>
/// <param name="Name">Its name as users see it.</param>
/// <param name="Reason">The measurements, in words ("slower quantized on this CPU: 0.31 ms vs 0.22 ms float at batch 1, ...").</param>
public sealed record SlowNode(string SourceNode, string Name, string Reason);

/// <summary>
/// <see cref="QuantizationOptions.KeepSlowNodesFloat"/>: quantizes, profiles the float and the quantized model node by
/// node on this machine at each batch size (<see cref="RuntimeProfiler"/>, attributed with <see cref="NodeCostAttribution"/>),
/// keeps in float the quantized nodes that are slower than float at one batch size and no faster at any, and quantizes
/// again; a second round sees the Q/DQ pairs those float nodes added. The float model is profiled once.
/// </summary>
public static class SpeedAwareQuantizer
{
    /// <summary>The quantization of <paramref name="options"/> with its slow nodes kept float; the result's
    /// TargetDecisions name each one with its times.</summary>
    /// <exception cref="QuantizationOptionsException">Invalid options (not static, not the host target, bad settings).</exception>
    /// <exception cref="ArgumentException">No sample fits the model, or an input has a dynamic axis besides the batch and no samples were given.</exception>
    public static QuantizationResult Quantize(OnnxModel model, QuantizationOptions options, OpQuantizerRegistry registry, IProgress<string>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        QuantizationOptionsValidator.Validate(options, model, registry);
        var settings = options.SpeedAware;
        // The rounds' models stay in memory and are checked by ONNX Runtime here (one it rejects is caught); the
        // caller's streamed output and check on save are for the final quantization only.
        var plain = options with { KeepSlowNodesFloat = false, StreamedData = null, VerifyWithRuntime = true, VerifyWhenSaved = false };
        var keep = new Dictionary<string, string>(options.KeepFloat, StringComparer.Ordinal);
        var result = ModelQuantizer.Quantize(model, plain, registry, progress, ct);
        var first = result;

        progress?.Report("Profiling the float model");
        var inputs = settings.BatchSizes.Distinct().Select(b => InputsFor(model, settings, b)).ToList();
        var floatProfiles = inputs.Select(i => RuntimeProfiler.Profile(model, i, settings.WarmupRuns, settings.Runs, settings.Threads, ct)).ToList();
        int kept = 0, rounds = 0;
        var notes = new List<string>();
        for (int round = 1; round <= settings.MaxRounds; round++)
        {
            progress?.Report($"Profiling the quantized model (round {round})");
            var costs = inputs.Select((i, k) => NodeCostAttribution.Attribute(model, floatProfiles[k], result.Model, result.Provenance!,
                RuntimeProfiler.Profile(result.Model, i, settings.WarmupRuns, settings.Runs, settings.Threads, ct))).ToList();
            rounds = round;
            var slow = Decide(model, costs, result.Provenance!, settings).Where(s => !keep.ContainsKey(s.SourceNode)).ToList();
            if (slow.Count == 0) break;
            var tried = new Dictionary<string, string>(keep, StringComparer.Ordinal);
            foreach (var s in slow) tried[s.SourceNode] = s.Reason;
            try
            {
                result = ModelQuantizer.Quantize(model, plain with { KeepFloat = tried }, registry, progress, ct);
            }
            catch (QuantizationException e)
            {
                // ONNX Runtime rejects the model with these nodes float: keep the last one it ran.
                notes.Add($"speed-aware: round {round}'s {slow.Count} float node(s) not kept, ONNX Runtime rejects that model ({e.Message})");
                break;
            }
            keep = tried;
            kept += slow.Count;
        }
        // Per-node profile times are a guide, not the judge (the profiler gave QLinearMul with broadcast 50-130x the float
        // Mul's time, which the whole model did not show): the choices stand only if the whole model, timed in interleaved
        // pairs against the plain quantization, is not clearly slower at either batch size.
        if (kept > 0 && settings.ConfirmWithTiming)
        {
            progress?.Report("Timing the whole model");
            var largest = inputs.MaxBy(i => i.Values.First().Rows)!;
            var check = SpeedComparer.Measure(first.Model, result.Model, new object[] { new Dictionary<string, NamedTensor>(largest) },
                new SpeedOptions { BatchSize = (int)largest.Values.First().Rows, Threads = settings.Threads }, ct);
            string figures = string.Create(CultureInfo.InvariantCulture,
                $"{check.Speedup:F2}x at batch {check.Throughput.BatchSize}, {check.LatencySpeedup:F2}x at batch {check.Latency.BatchSize} against the plain quantization");
            if (Math.Min(check.Speedup, check.LatencySpeedup) < 1 / (1 + settings.Margin))
            {
                notes.Add($"speed-aware: the {kept} float node(s) dropped, the whole model timed slower with them ({figures})");
                result = first;
                keep = new Dictionary<string, string>(options.KeepFloat, StringComparer.Ordinal);
                kept = 0;
            }
            else notes.Add($"speed-aware: whole model {figures}");
        }
        if (options.StreamedData != null || !options.VerifyWithRuntime || options.VerifyWhenSaved)
            result = ModelQuantizer.Quantize(model, options with { KeepSlowNodesFloat = false, KeepFloat = keep }, registry, progress, ct);
        result.TargetDecisions = result.TargetDecisions.Append(string.Create(CultureInfo.InvariantCulture,
            $"speed-aware: {kept} node(s) kept float after {rounds} profiling round(s) at batch {string.Join(" and ", settings.BatchSizes)} on this CPU ({result.Target})")).Concat(notes).ToList();
        return result;
    }

    /// <summary>The quantized nodes to keep float: at some batch size slower quantized than float (beyond the margins), and at
    /// none faster (below float x (1 - Margin)), so that keeping them float makes no batch size slower. Each batch size's
    /// costs come from the same quantized model.</summary>
    /// <remarks>A Conv, ConvTranspose or Gemm whose input comes from a DequantizeLinear is quantized by ONNX Runtime itself
    /// (its WeightBiasQuantization transformer, 1.20 and later: int8 weights per tensor, Round on the bias, which fails on
    /// opsets before 11), so one is kept float only where its input tensor stays float: read from the model's inputs or
    /// from a node that is float or kept float too, and by no quantized node.</remarks>
    public static IReadOnlyList<SlowNode> Decide(OnnxModel source, IReadOnlyList<NodeCosts> costs, QuantizationProvenance provenance, SpeedAwareOptions settings)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(costs);
        ArgumentNullException.ThrowIfNull(provenance);
        ArgumentNullException.ThrowIfNull(settings);
        var graph = source.Graph;
        var byNode = costs.SelectMany(c => c.Nodes).GroupBy(n => n.SourceNode, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        bool Quantized(string key) => provenance.Nodes.TryGetValue(key, out var p) && p.Outcome == NodeOutcome.Quantized;
        var chosen = new HashSet<string>(StringComparer.Ordinal);
        var slow = new List<SlowNode>();
        // In the graph's order, so that a Conv sees whether the node before it was kept float.
        foreach (var node in graph.Nodes)
        {
            if (node.Output.Count == 0 || !byNode.TryGetValue(node.Output[0], out var all) || !Quantized(node.Output[0])) continue;
            string key = node.Output[0];
            // A folded node's float time (a Relu, a BatchNormalization) is part of what its absorber costs in float.
            double Float(SourceNodeCost c) => c.FloatMicroseconds + costs.Where(x => x.BatchSize == c.BatchSize).SelectMany(x => x.Nodes)
                .Where(x => x.SourceNode != key && provenance.AbsorberOf(x.SourceNode) == key)
                .Sum(x => x.FloatMicroseconds - x.QuantizedMicroseconds);
            // No float time of its own: ONNX Runtime fused it into another node of the float model (a residual Add into
            // the Conv before it), so its cost cannot be compared alone; it stays as it is.
            if (all.All(c => Float(c) <= 0)) continue;
            bool slower = all.Any(c => c.QuantizedMicroseconds > Float(c) * (1 + settings.Margin) + settings.MinimumMicroseconds);
            bool faster = all.Any(c => c.QuantizedMicroseconds < Float(c) * (1 - settings.Margin));
            if (!slower || faster) continue;
            if (node.OpType is "Conv" or "ConvTranspose" or "Gemm" && node.Input.Count > 0 && !StaysFloat(node.Input[0], node)) continue;
            chosen.Add(key);
            string times = string.Join(", ", all.Select(c => string.Create(CultureInfo.InvariantCulture,
                $"{c.QuantizedMicroseconds / 1000:0.###} ms vs {Float(c) / 1000:0.###} ms float at batch {c.BatchSize}")));
            slow.Add(new SlowNode(key, all[0].Name, $"slower quantized on this CPU (ONNX Runtime's profile): {times}"));
            // What was folded into it (a Relu or Clip) would otherwise be quantized on its own, between Q/DQ pairs.
            foreach (var f in provenance.Nodes.Values)
                if (f.Outcome == NodeOutcome.Folded && f.SourceNode != key && provenance.AbsorberOf(f.SourceNode) == key && f.OpType != "BatchNormalization")
                    slow.Add(new SlowNode(f.SourceNode, graph.Producer(f.SourceNode) is { } fn ? QuantizationPlanner.DisplayName(fn) : f.SourceNode,
                        $"folded into {all[0].Name}, which stays float"));
        }
        return slow;

        bool StaysFloat(string tensor, Onnx.Proto.NodeProto reader)
        {
            var producer = graph.Producer(tensor);
            // A folded Relu's output is its absorber's.
            string? key = producer?.Output.FirstOrDefault() is { } first ? provenance.AbsorberOf(first) : null;
            bool producerFloat = key == null || !Quantized(key) || chosen.Contains(key);
            return producerFloat && graph.Consumers(tensor).All(c => ReferenceEquals(c, reader) || c.Output.Count == 0 || !Quantized(c.Output[0]) || chosen.Contains(c.Output[0]));
        }
    }

    /// <summary>One batch for the profiles: the first rows of the samples, or inputs made from the declared shapes.</summary>
    private static IReadOnlyDictionary<string, NamedTensor> InputsFor(OnnxModel model, SpeedAwareOptions settings, int batchSize)
    {
        if (settings.Samples != null)
        {
            var (batch, _) = SpeedComparer.FirstBatch(model, settings.Samples, batchSize);
            return batch.Inputs;
        }
        var rng = new Random(1234);
        var inputs = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var spec in new InputBinder(model).Inputs)
        {
            var dims = spec.Dims ?? throw new ArgumentException($"Input '{spec.Name}' has no declared shape: give samples to profile on.");
            var shape = new long[dims.Length];
            for (int d = 0; d < dims.Length; d++)
                shape[d] = dims[d] ?? (d == 0 ? batchSize : throw new ArgumentException(
                    $"Input '{spec.Name}' has a dynamic axis {d} besides the batch axis: give samples to profile on (the calibration data will do)."));
            long count = shape.Aggregate(1L, (a, b) => a * b);
            var data = TypedArrays.Create(spec.ElementType, count);
            if (data is float[] f) for (int i = 0; i < f.Length; i++) f[i] = (float)rng.NextDouble();
            inputs[spec.Name] = new NamedTensor(spec.Name, data, shape);
        }
        return inputs;
    }
}
