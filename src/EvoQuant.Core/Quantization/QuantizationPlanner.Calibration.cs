using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Targets;

namespace EvoQuant.Quantization;

/// <summary>What static quantization will quantize with a node selection: the nodes its plans quantize and
/// the run-time activations they declare, which are the tensors calibration measures.</summary>
/// <param name="Nodes">Nodes quantized in at least one static format, in graph order.</param>
/// <param name="Activations">Run-time (non-constant) activations those plans declare, in graph order (each
/// node's inputs, then its outputs).</param>
public sealed record PlannedActivations(IReadOnlyList<NodeProto> Nodes, IReadOnlyList<string> Activations);

public static partial class QuantizationPlanner
{
    /// <summary>The activations a static quantization of <paramref name="model"/> with this node selection
    /// declares, in any static format of <paramref name="registry"/> and on any target: what calibration
    /// measures, so that the two never disagree on an op. Plans are made without ranges (a Relu or Clip then
    /// keeps its input, which is a superset of the plan made with ranges, where it may fold; symmetric activations
    /// say so to the op quantizers) and without the
    /// pair-safe guard (which keeps a MatMul of two activations float on some targets only). Tensors that take
    /// a fixed range (Softmax's output) or their input's parameters (Reshape's output) are measured too: the
    /// table then describes every quantized tensor, for reports and TensorRT, at the price of a few reductions.</summary>
    /// <param name="opTypes">Op-type wildcard patterns (case-insensitive); null or empty: the op types the
    /// registry quantizes by default. Op types named this way that no class knows use the format's fallback,
    /// as they do when quantizing with them in OpTypes.</param>
    /// <param name="includeNodes">Node-name wildcard patterns; when given, only matching nodes.</param>
    /// <param name="excludeNodes">Node-name wildcard patterns of nodes left out.</param>
    public static PlannedActivations ActivationsToCalibrate(OnnxModel model, OpQuantizerRegistry registry, IEnumerable<string>? opTypes = null,
        IEnumerable<string>? includeNodes = null, IEnumerable<string>? excludeNodes = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(registry);
        var patterns = (opTypes ?? Array.Empty<string>()).Select(p => new WildcardPattern(p)).ToList();
        // The planner takes op-type names: the patterns become the model's op types they match.
        var named = model.Graph.Nodes.Select(n => n.OpType).Distinct(StringComparer.Ordinal)
            .Where(t => patterns.Any(p => p.IsMatch(t))).ToList();
        if (patterns.Count > 0 && named.Count == 0) return new PlannedActivations(Array.Empty<NodeProto>(), Array.Empty<string>());

        var quantized = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var declared = new HashSet<string>(StringComparer.Ordinal);
        foreach (var format in Enum.GetValues<QuantFormat>())
        {
            // Symmetric activations: no Relu or Clip folds, so its input stays declared (the superset), and the
            // fold checks, which cost a scan of the plan per Relu, are not made (a 20000-Relu chain: 9 s to 80 s).
            var options = new QuantizationOptions
            {
                Format = format, OpTypes = named, WeightSaturation = SaturationGuard.None, ActivationSymmetric = true, VerifyWithRuntime = false,
                IncludeNodes = (includeNodes ?? Array.Empty<string>()).ToList(), ExcludeNodes = (excludeNodes ?? Array.Empty<string>()).ToList(),
            };
            var context = new QuantizationContext(model, options);
            var (plan, _) = Build(context, registry);
            quantized.UnionWith(plan.QuantizedNodes);
            foreach (var r in plan.Tensors)
                if (r.Role == TensorRole.Activation && !context.IsConstant(r.Name)) declared.Add(r.Name);
        }

        var nodes = model.Graph.Nodes.Where(quantized.Contains).ToList();
        var ordered = new List<string>(declared.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in nodes)
            foreach (string t in node.Input.Concat(node.Output))
                if (declared.Contains(t) && seen.Add(t)) ordered.Add(t);
        return new PlannedActivations(nodes, ordered);
    }
}
