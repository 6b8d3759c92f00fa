using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Calibration;

/// <summary>Which tensors get calibrated, and which were left out with a reason.</summary>
public sealed record TensorSelection(IReadOnlyList<string> Tensors, IReadOnlyList<SkippedTensor> Skipped)
{
    /// <summary>Element types known before running (declared or propagated); absent when unknown.</summary>
    public IReadOnlyDictionary<string, int> KnownTypes { get; init; } = new Dictionary<string, int>();
}

/// <summary>Picks the tensors to calibrate: the float inputs and outputs of the nodes that will be
/// quantized (by op type, optionally narrowed by node-name patterns), never initializers or
/// Constant-node outputs. Patterns use PowerShell-style wildcards (* and ?), case-insensitive.</summary>
public sealed class CalibrationTensorSelector
{
    /// <summary>Op types calibrated by default: those the quantizer may quantize or pass a range through.</summary>
    public static IReadOnlyList<string> DefaultOpTypes { get; } = new[]
    {
        "Conv", "ConvTranspose", "MatMul", "Gemm", "Add", "Sub", "Mul", "Div", "Relu", "Clip", "LeakyRelu", "Sigmoid",
        "HardSigmoid", "HardSwish", "Tanh", "Softmax", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
        "Concat", "Resize", "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Split", "Slice", "Gather",
        "Pad", "Where", "InstanceNormalization", "LayerNormalization", "ReduceMean", "Gelu", "Erf", "Pow", "Sqrt",
    };

    private readonly WildcardPattern[] _opTypes, _include, _exclude;

    public CalibrationTensorSelector(IEnumerable<string>? opTypes = null, IEnumerable<string>? includeNodes = null, IEnumerable<string>? excludeNodes = null)
    {
        var ops = opTypes?.ToList();
        _opTypes = (ops is { Count: > 0 } ? ops : DefaultOpTypes).Select(p => new WildcardPattern(p)).ToArray();
        _include = (includeNodes ?? Array.Empty<string>()).Select(p => new WildcardPattern(p)).ToArray();
        _exclude = (excludeNodes ?? Array.Empty<string>()).Select(p => new WildcardPattern(p)).ToArray();
    }

    /// <summary>Whether a node is selected by the op-type and node-name filters.</summary>
    public bool IsSelected(NodeProto node)
    {
        if (!_opTypes.Any(r => r.IsMatch(node.OpType))) return false;
        if (_include.Length > 0 && !_include.Any(r => r.IsMatch(node.Name))) return false;
        return !_exclude.Any(r => r.IsMatch(node.Name));
    }

    public TensorSelection Select(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var g = model.Graph;
        var types = ElementTypeInference.Infer(g);
        var chosen = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var skipped = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var node in g.Nodes)
        {
            if (node.OpType == "Constant" || !IsSelected(node)) continue;
            foreach (string t in node.Input.Concat(node.Output))
            {
                if (t.Length == 0 || seen.Contains(t) || skipped.ContainsKey(t)) continue;
                if (g.IsConstant(t))
                {
                    skipped[t] = g.IsInitializer(t) ? "initializer (a weight, not an activation)" : "output of a Constant node (a weight, not an activation)";
                    continue;
                }
                if (types.TryGetValue(t, out int type))
                {
                    if (type is not (ElementTypes.Float or ElementTypes.Float16))
                    {
                        skipped[t] = $"element type {ElementTypes.Name(type)} is not float";
                        continue;
                    }
                }
                else if (!IsProducedByFloatPath(g, t, types))
                {
                    skipped[t] = "element type unknown (no value_info and not derived from a float tensor)";
                    continue;
                }
                seen.Add(t);
                chosen.Add(t);
            }
        }
        return new TensorSelection(chosen, skipped.Select(kv => new SkippedTensor(kv.Key, kv.Value)).ToList()) { KnownTypes = types };
    }

    // Unknown type: keep it when a selected float op produced it (checked again at run time).
    private bool IsProducedByFloatPath(GraphView g, string tensor, Dictionary<string, int> types)
    {
        var p = g.Producer(tensor);
        return p != null && p.OpType is "Conv" or "ConvTranspose" or "MatMul" or "Gemm" or "Relu" or "Clip" or "Sigmoid" or "Softmax"
            or "LeakyRelu" or "HardSigmoid" or "HardSwish" or "Tanh" or "AveragePool" or "GlobalAveragePool" or "MaxPool" or "Resize";
    }
}
