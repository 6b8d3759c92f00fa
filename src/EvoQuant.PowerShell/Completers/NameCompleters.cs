using System.Collections;
using EvoQuant.Onnx;
using EvoQuant.Quantization;

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
/// types the quantizer registry supports: in the -Format of the command line, else in any format.</summary>
public sealed class OpTypeCompleter : ModelArgumentCompleter
{
    /// <summary>The op types <see cref="OpQuantizerRegistry.Default"/> quantizes in <paramref name="format"/>, or in any format when null.</summary>
    public static IReadOnlyList<string> QuantizableOpTypes(QuantFormat? format = null) =>
        (format is QuantFormat f ? new[] { f } : Enum.GetValues<QuantFormat>())
            .SelectMany(OpQuantizerRegistry.Default.SupportedOpTypes)
            .Distinct(StringComparer.Ordinal).OrderBy(o => o, StringComparer.Ordinal).ToList();

    protected override IEnumerable<(string Name, string ToolTip)> GetCandidates(OnnxModel? model) => GetCandidates(model, null);

    protected override IEnumerable<(string Name, string ToolTip)> GetCandidates(OnnxModel? model, IDictionary? fakeBoundParameters)
    {
        if (model != null)
            return model.OpTypeCounts.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, $"{kv.Key}: {kv.Value} node(s)"));
        QuantFormat? format = FormatOf(fakeBoundParameters);
        return QuantizableOpTypes(format).Select(o => (o, format is QuantFormat f ? $"{o} (quantizable in {f})" : $"{o} (quantizable)"));
    }

    // -Format as typed on the command line (a string, or the enum value); null when absent or not a format.
    private static QuantFormat? FormatOf(IDictionary? fakeBoundParameters)
    {
        object? value = fakeBoundParameters?["Format"];
        if (value is System.Management.Automation.PSObject pso) value = pso.BaseObject;
        return value switch
        {
            QuantFormat f => f,
            string s when Enum.TryParse<QuantFormat>(s.Trim('\'', '"'), ignoreCase: true, out var f) => f,
            _ => null,
        };
    }
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
