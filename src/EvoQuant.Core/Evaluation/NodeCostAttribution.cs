using System.Text.RegularExpressions;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Quantization.Provenance;

namespace EvoQuant.Evaluation;

/// <summary>One node of the float model, its kernel time as ONNX Runtime runs the float model and as it runs the
/// quantized one, at one batch size (each the sum of the runtime nodes attributed to it).</summary>
/// <param name="SourceNode">The node's first output in the float model (the provenance's key).</param>
/// <param name="Name">Its name as users see it (<see cref="QuantizationPlanner.DisplayName"/>).</param>
/// <param name="OpType">Its op type in the float model.</param>
/// <param name="BatchSize">Rows per run of both profiles.</param>
/// <param name="FloatMicroseconds">Median time of the float model's runtime nodes that compute it.</param>
/// <param name="QuantizedMicroseconds">Median time of the quantized model's runtime nodes that compute it, the
/// QuantizeLinear and DequantizeLinear that ONNX Runtime could not fuse and that it costs included.</param>
public sealed record SourceNodeCost(string SourceNode, string Name, string OpType, int BatchSize, double FloatMicroseconds, double QuantizedMicroseconds)
{
    /// <summary>Quantized time over float time: above 1 the quantized node is slower.</summary>
    public double Ratio => FloatMicroseconds > 0 ? QuantizedMicroseconds / FloatMicroseconds : double.PositiveInfinity;
}

/// <summary>The profiles of a float model and of its quantized form attributed to the float model's nodes.</summary>
/// <param name="BatchSize">Rows per run.</param>
/// <param name="Nodes">Every source node that some runtime node was attributed to, in the float graph's order.</param>
/// <param name="Owners">For each runtime node of both profiles ("float:" or "quantized:" then its name), the source node it
/// was attributed to.</param>
/// <param name="Unattributed">Runtime nodes attributed to no source node (none when the graphs are connected).</param>
public sealed record NodeCosts(int BatchSize, IReadOnlyList<SourceNodeCost> Nodes, IReadOnlyDictionary<string, string> Owners, IReadOnlyList<string> Unattributed);

/// <summary>
/// Attributes ONNX Runtime's per-node profiles (<see cref="RuntimeProfiler"/>) of a float model and of its quantized
/// form to the float model's nodes. ONNX Runtime renames what it fuses: a QDQ Conv runs as a QLinearConv named after the
/// Conv plus "_token_N", a float Conv in the NCHWc layout as its output tensor plus "_nchwc", with reorders and
/// transposes it adds under new names. A runtime node is found by its name (suffixes removed) among the nodes, else the
/// tensors, of the model that was profiled; a node the runtime added goes to its neighbour that computes (a Conv, MatMul
/// or Gemm first). A quantized model's node goes to the source node its provenance names, and a QuantizeLinear or
/// DequantizeLinear left standing to the quantized source node that reads its tensor (else the one that writes it).
/// BatchNormalization and activations that ONNX Runtime fuses into the op before them are attributed to that op.
/// </summary>
public static partial class NodeCostAttribution
{
    /// <summary>Ops ONNX Runtime's CPU provider fuses into the Conv, Gemm or MatMul before them (Conv+BatchNormalization,
    /// FusedConv's activations), so their time shows under that op.</summary>
    private static readonly HashSet<string> FusedIntoProducer = new(StringComparer.Ordinal)
        { "BatchNormalization", "Relu", "Clip", "LeakyRelu", "HardSigmoid", "Sigmoid", "Tanh" };

    private static readonly HashSet<string> Computing = new(StringComparer.Ordinal) { "Conv", "ConvTranspose", "Gemm", "MatMul" };

    [GeneratedRegex("(_token_[0-9]+)$")]
    private static partial Regex TokenSuffix();

    /// <param name="source">The float model (both profiles' batch size must agree).</param>
    /// <param name="floatProfile">The float model's profile, with its optimized graph.</param>
    /// <param name="quantized">The quantized model as written.</param>
    /// <param name="provenance">What the rewrite recorded for <paramref name="quantized"/>.</param>
    /// <param name="quantizedProfile">The quantized model's profile, with its optimized graph.</param>
    public static NodeCosts Attribute(OnnxModel source, RuntimeProfile floatProfile, OnnxModel quantized, QuantizationProvenance provenance, RuntimeProfile quantizedProfile)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(floatProfile);
        ArgumentNullException.ThrowIfNull(quantized);
        ArgumentNullException.ThrowIfNull(provenance);
        ArgumentNullException.ThrowIfNull(quantizedProfile);
        var graph = source.Graph;
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        var unattributed = new List<string>();
        var floatTimes = new Dictionary<string, double>(StringComparer.Ordinal);
        var quantTimes = new Dictionary<string, double>(StringComparer.Ordinal);

        // Float: the profiled model is the source model.
        Attribute(floatProfile, graph, n => Climb(graph, n), "float:", floatTimes, owners, unattributed);

        // Quantized: written nodes to source nodes through the provenance.
        var written = quantized.Graph;
        var emittedBy = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in provenance.Nodes.Values)
            foreach (var e in p.EmittedNodes) emittedBy.TryAdd(e, p.SourceNode);
        var sourceOfQuantized = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var t in provenance.Tensors.Values)
        {
            if (t.QuantizedTensor != null) sourceOfQuantized.TryAdd(t.QuantizedTensor, t.SourceTensor);
            if (t.DequantizedTensor != null) sourceOfQuantized.TryAdd(t.DequantizedTensor, t.SourceTensor);
        }
        var renamedFrom = provenance.Renames.ToDictionary(kv => kv.Value, kv => kv.Key, StringComparer.Ordinal);
        string? SourceTensor(string t) =>
            sourceOfQuantized.TryGetValue(t, out var s) ? s : renamedFrom.TryGetValue(t, out s) ? s : graph.Producer(t) != null || graph.IsConstant(t) || IsInput(graph, t) ? t : null;
        NodeProto? SourceOfWritten(NodeProto n)
        {
            if (n.Output.Count > 0 && emittedBy.TryGetValue(n.Output[0], out var key))
            {
                key = provenance.AbsorberOf(key);
                return graph.Producer(key) is { } s ? Climb(graph, s) : null;
            }
            if (n.OpType is "QuantizeLinear" or "DequantizeLinear")
            {
                string? t = SourceTensor(n.OpType == "QuantizeLinear" ? n.Output[0] : n.Input[0]) ?? SourceTensor(n.OpType == "QuantizeLinear" ? n.Input[0] : n.Output[0]);
                if (t == null) return null;
                var reader = graph.Consumers(t).FirstOrDefault(c => provenance.Nodes.TryGetValue(c.Output[0], out var p) && p.Outcome == NodeOutcome.Quantized);
                if (reader != null) return Climb(graph, reader);
                return graph.Producer(t) is { } w ? Climb(graph, w) : null;
            }
            // A node the rewrite kept as it was (a float node between quantized ones).
            return n.Output.Count > 0 && graph.Producer(SourceTensor(n.Output[0]) ?? n.Output[0]) is { } same ? Climb(graph, same) : null;
        }
        Attribute(quantizedProfile, written, SourceOfWritten, "quantized:", quantTimes, owners, unattributed);

        var nodes = new List<SourceNodeCost>();
        foreach (var n in graph.Nodes)
        {
            if (n.Output.Count == 0) continue;
            string key = n.Output[0];
            bool f = floatTimes.TryGetValue(key, out double ft), q = quantTimes.TryGetValue(key, out double qt);
            if (f || q) nodes.Add(new SourceNodeCost(key, QuantizationPlanner.DisplayName(n), n.OpType, floatProfile.BatchSize, ft, qt));
        }
        return new NodeCosts(floatProfile.BatchSize, nodes, owners, unattributed);
    }

    private static bool IsInput(GraphView graph, string tensor) => graph.RuntimeInputs.Any(i => i.Name == tensor);

    /// <summary>The node a fused activation or normalization ran inside: up through its single-consumer producers.</summary>
    private static NodeProto Climb(GraphView graph, NodeProto node)
    {
        var n = node;
        while (FusedIntoProducer.Contains(n.OpType) && n.Input.Count > 0 && graph.Producer(n.Input[0]) is { } p
               && (Computing.Contains(p.OpType) || FusedIntoProducer.Contains(p.OpType))
               && p.Output.Count == 1 && graph.Consumers(p.Output[0]).Count == 1)
            n = p;
        return n;
    }

    /// <summary>Adds each runtime node's time to its source node's total; <paramref name="toSource"/> maps a node of the
    /// profiled model to its source node.</summary>
    private static void Attribute(RuntimeProfile profile, GraphView model, Func<NodeProto, NodeProto?> toSource, string prefix,
        Dictionary<string, double> times, Dictionary<string, string> owners, List<string> unattributed)
    {
        var byName = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var n in model.Nodes) if (n.Name.Length > 0) byName.TryAdd(n.Name, n);
        var found = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var r in profile.Nodes)
        {
            string name = TokenSuffix().Replace(r.Node, "");
            if (name.EndsWith("_nchwc", StringComparison.Ordinal)) name = name[..^"_nchwc".Length];
            var n = byName.GetValueOrDefault(name) ?? model.Producer(name);
            if (n != null && toSource(n) is { } s) found[r.Node] = s;
        }
        // Nodes the runtime added (reorders, transposes, renamed fusions): the neighbour that computes, else any.
        var producers = new Dictionary<string, RuntimeNodeTime>(StringComparer.Ordinal);
        var consumers = new Dictionary<string, List<RuntimeNodeTime>>(StringComparer.Ordinal);
        foreach (var r in profile.Nodes)
        {
            foreach (var o in r.Outputs) producers.TryAdd(o, r);
            foreach (var i in r.Inputs) (consumers.TryGetValue(i, out var l) ? l : consumers[i] = new()).Add(r);
        }
        for (bool changed = true; changed;)
        {
            changed = false;
            foreach (var r in profile.Nodes)
            {
                if (found.ContainsKey(r.Node)) continue;
                var neighbours = r.Outputs.SelectMany(o => consumers.GetValueOrDefault(o) ?? new())
                    .Concat(r.Inputs.Select(i => producers.GetValueOrDefault(i)).OfType<RuntimeNodeTime>())
                    .Where(x => found.ContainsKey(x.Node)).ToList();
                var pick = neighbours.FirstOrDefault(x => x.OpType.Contains("Conv", StringComparison.Ordinal) || x.OpType.Contains("MatMul", StringComparison.Ordinal) || x.OpType.Contains("Gemm", StringComparison.Ordinal))
                    ?? neighbours.FirstOrDefault();
                if (pick == null) continue;
                found[r.Node] = found[pick.Node];
                changed = true;
            }
        }
        foreach (var r in profile.Nodes)
        {
            if (!found.TryGetValue(r.Node, out var s)) { unattributed.Add(prefix + r.Node); continue; }
            owners[prefix + r.Node] = s.Output[0];
            times[s.Output[0]] = times.GetValueOrDefault(s.Output[0]) + r.MedianMicroseconds;
        }
    }
}
