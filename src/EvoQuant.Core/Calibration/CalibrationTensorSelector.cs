using EvoQuant.Onnx;
using EvoQuant.Quantization;

namespace EvoQuant.Calibration;

/// <summary>Which tensors get calibrated, and which were left out with a reason.</summary>
public sealed record TensorSelection(IReadOnlyList<string> Tensors, IReadOnlyList<SkippedTensor> Skipped)
{
    /// <summary>Element types known before running (declared or propagated); absent when unknown.</summary>
    public IReadOnlyDictionary<string, int> KnownTypes { get; init; } = new Dictionary<string, int>();
}

/// <summary>Picks the tensors to calibrate: the run-time activations that static quantization with the same
/// node selection quantizes (<see cref="QuantizationPlanner.ActivationsToCalibrate"/>: the op registry
/// decides, in one place), and reports the other inputs and outputs of those nodes as left out, with the
/// reason. Patterns use PowerShell-style wildcards (* and ?), case-insensitive.</summary>
public sealed class CalibrationTensorSelector
{
    private readonly IReadOnlyList<string>? _opTypes, _include, _exclude;
    private readonly OpQuantizerRegistry _registry;

    /// <param name="opTypes">Op-type patterns; null or empty: the op types the registry quantizes by default.</param>
    /// <param name="registry">The op quantizers to plan with (default: <see cref="OpQuantizerRegistry.Default"/>).</param>
    public CalibrationTensorSelector(IEnumerable<string>? opTypes = null, IEnumerable<string>? includeNodes = null, IEnumerable<string>? excludeNodes = null,
        OpQuantizerRegistry? registry = null)
    {
        _opTypes = opTypes?.ToList();
        _include = includeNodes?.ToList();
        _exclude = excludeNodes?.ToList();
        _registry = registry ?? OpQuantizerRegistry.Default;
    }

    public TensorSelection Select(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var g = model.Graph;
        var types = ElementTypeInference.Infer(g);
        var planned = QuantizationPlanner.ActivationsToCalibrate(model, _registry, _opTypes, _include, _exclude);
        var chosen = planned.Activations.ToHashSet(StringComparer.Ordinal);
        var skipped = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var node in planned.Nodes)
            foreach (string t in node.Input.Concat(node.Output))
            {
                if (t.Length == 0 || chosen.Contains(t) || skipped.ContainsKey(t)) continue;
                skipped[t] = g.IsConstant(t)
                    ? g.IsInitializer(t) ? "initializer (a weight, not an activation)" : "output of a Constant node (a weight, not an activation)"
                    : types.TryGetValue(t, out int type) && type != ElementTypes.Float ? $"element type {ElementTypes.Name(type)} is not float"
                    : "its node's quantizer does not quantize it";
            }
        return new TensorSelection(planned.Activations, skipped.Select(kv => new SkippedTensor(kv.Key, kv.Value)).ToList()) { KnownTypes = types };
    }
}
