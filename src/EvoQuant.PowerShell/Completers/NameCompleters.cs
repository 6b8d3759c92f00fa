using EvoQuant.Onnx;

namespace EvoQuant.PowerShell.Completers;

/// <summary>Node names of the model on the command line (for -IncludeNode, -ExcludeNode), in topological order.</summary>
public sealed class NodeNameCompleter : ModelArgumentCompleter
{
    protected override IEnumerable<(string Name, string ToolTip)> GetCandidates(OnnxModel? model) =>
        model == null ? Enumerable.Empty<(string, string)>()
        : model.Nodes.Where(n => n.Name.Length > 0)
            .Select(n => (n.Name, $"{n.Name} ({n.OpType}): {string.Join(", ", n.Inputs)} -> {string.Join(", ", n.Outputs)}"));
}

/// <summary>Op types present in the model on the command line (for -OpType); without a model, the op
/// types EvoQuant quantizes.</summary>
public sealed class OpTypeCompleter : ModelArgumentCompleter
{
    /// <summary>The op types of the default QDQ registry (ONNX Runtime's QDQ and QLinear tables, plus Flatten).</summary>
    public static readonly IReadOnlyList<string> QuantizableOpTypes = new[]
    {
        "Add", "ArgMax", "AveragePool", "BatchNormalization", "Clip", "Concat", "Conv", "ConvTranspose", "CumSum", "Flatten", "Gather",
        "GatherElements", "Gemm", "GlobalAveragePool", "InstanceNormalization", "LayerNormalization", "LeakyRelu", "MatMul", "MaxPool",
        "Mul", "Pad", "Relu", "Reshape", "Resize", "Sigmoid", "Slice", "Softmax", "Split", "Squeeze", "TopK", "Transpose", "Unsqueeze", "Where",
    };

    protected override IEnumerable<(string Name, string ToolTip)> GetCandidates(OnnxModel? model) =>
        model == null
            ? QuantizableOpTypes.Select(o => (o, $"{o} (quantizable)"))
            : model.OpTypeCounts.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, $"{kv.Key}: {kv.Value} node(s)"));
}

/// <summary>Activation tensor names of the model on the command line (for -TensorOverride): graph inputs
/// and node outputs that are not constants, in topological order.</summary>
public sealed class TensorNameCompleter : ModelArgumentCompleter
{
    protected override IEnumerable<(string Name, string ToolTip)> GetCandidates(OnnxModel? model)
    {
        if (model == null) yield break;
        var graph = model.Graph;
        foreach (var input in model.Inputs) yield return (input.Name, $"{input} (graph input)");
        foreach (var node in graph.Nodes)
            foreach (var output in node.Output)
                if (output.Length > 0 && !graph.IsConstant(output))
                    yield return (output, $"{output}: output of {node.Name} ({node.OpType})");
    }
}

/// <summary>Graph input names of the model on the command line (e.g. for keys of sample hashtables).</summary>
public sealed class InputNameCompleter : ModelArgumentCompleter
{
    protected override IEnumerable<(string Name, string ToolTip)> GetCandidates(OnnxModel? model) =>
        model == null ? Enumerable.Empty<(string, string)>() : model.Inputs.Select(i => (i.Name, i.ToString()));
}
