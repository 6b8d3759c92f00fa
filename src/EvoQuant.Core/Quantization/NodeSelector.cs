using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization;

/// <summary>The one predicate for "should this node be quantized": its op type is one the format
/// supports (or one the user named, where the format has a fallback), it passes OpTypes, IncludeNodes and
/// ExcludeNodes, and it is an ONNX-domain op. The op quantizer then checks its inputs.</summary>
public sealed class NodeSelector
{
    private readonly QuantizationOptions _options;
    private readonly OpQuantizerRegistry _registry;
    private readonly Rewrite.RewriteFormat _format;
    private readonly HashSet<string>? _opTypes;
    private readonly List<WildcardPattern> _include;
    private readonly List<WildcardPattern> _exclude;

    /// <param name="graph">The main graph, for the rules that look at its structure
    /// (<see cref="QuantizationOptions.KeepFirstDownProjectionFloat"/>); null: none apply.</param>
    public NodeSelector(QuantizationOptions options, OpQuantizerRegistry registry, GraphView? graph = null)
    {
        _options = options;
        _registry = registry;
        _format = Rewrite.RewriteFormats.Of(options);
        _opTypes = options.OpTypes.Count > 0 ? new HashSet<string>(options.OpTypes, StringComparer.OrdinalIgnoreCase) : null;
        _include = options.IncludeNodes.Select(p => new WildcardPattern(p)).ToList();
        _exclude = options.ExcludeNodes.Select(p => new WildcardPattern(p)).ToList();
        // A node named by IncludeNodes was asked for: the rule gives way.
        if (graph != null && options.KeepFirstDownProjectionFloat && options.IncludeNodes.Count == 0)
            KeptFloatDownProjection = FeedForwardProjections.FirstOfStack(graph);
    }

    /// <summary>The transformer's first feed-forward down projection, kept float by
    /// <see cref="QuantizationOptions.KeepFirstDownProjectionFloat"/>; null when none is.</summary>
    public NodeProto? KeptFloatDownProjection { get; }

    /// <summary>The line of the result's TargetDecisions that names the node the rule kept float, if any.</summary>
    public string? KeptFloatDecision => KeptFloatDownProjection is { } n
        ? $"kept float: {QuantizationPlanner.DisplayName(n)}, the transformer's first feed-forward down projection (its input's outliers)"
        : null;

    /// <summary>The declarer for the node, or null with the reason it stays float.</summary>
    public IOpQuantizer? Select(NodeProto node, out string? reason) => SelectRegistration(node, out reason)?.Declarer;

    /// <summary>Declarer and emitter for the node, or null with the reason it stays float.</summary>
    public Rewrite.OpRegistration? SelectRegistration(NodeProto node, out string? reason)
    {
        reason = null;
        if (node.OpType is "QuantizeLinear" or "DequantizeLinear")
        {
            reason = "it is already a quantization node.";
            return null;
        }
        // ONNX Runtime's fused ops are registered under their qualified name (com.microsoft.Attention): ONNX
        // has ops of the same names with other inputs.
        bool custom = !string.IsNullOrEmpty(node.Domain) && node.Domain != "ai.onnx";
        string opKey = custom ? node.Domain + "." + node.OpType : node.OpType;
        if (custom && !_registry.IsRegistered(_format, opKey))
        {
            reason = $"it is a custom-domain op ({node.Domain}); only ONNX-domain ops are quantized.";
            return null;
        }
        if (_exclude.FirstOrDefault(p => p.IsMatch(node.Name)) is { } ex)
        {
            reason = $"excluded by ExcludeNodes pattern '{ex.Pattern}'.";
            return null;
        }
        if (node.Output.Count > 0 && _options.KeepFloat.TryGetValue(node.Output[0], out var measured))
        {
            reason = measured;
            return null;
        }
        if (_include.Count > 0 && !_include.Any(p => p.IsMatch(node.Name)))
        {
            reason = "not matched by any IncludeNodes pattern.";
            return null;
        }
        if (KeptFloatDownProjection != null && node.Output.SequenceEqual(KeptFloatDownProjection.Output))
        {
            reason = "the first feed-forward down projection of the transformer: one 8-bit scale per tensor cannot hold "
                + "the outliers of its input (name it in IncludeNodes to quantize it).";
            return null;
        }
        if (node.Output.Any(_options.FloatOutputs.Contains))
        {
            reason = "it computes the outlier channels of a split MatMul input in float (the outlier split).";
            return null;
        }
        string? namedType = _opTypes?.FirstOrDefault(t => string.Equals(t, node.OpType, StringComparison.OrdinalIgnoreCase) || string.Equals(t, opKey, StringComparison.OrdinalIgnoreCase));
        if (_opTypes != null && namedType == null)
        {
            reason = $"op type {node.OpType} is not in OpTypes.";
            return null;
        }
        // An op type the user names explicitly may use the format's generic fallback.
        var q = _registry.Registration(_format, opKey, useFallback: namedType != null && !custom);
        // In the words of the mode that runs: a user who asked for -Dynamic never chose a format.
        string where = _format == Rewrite.RewriteFormat.Dynamic ? "by dynamic quantization" : $"in the {_format} format";
        if (q == null && !_registry.HasFallback(_format))
            reason = $"op type {node.OpType} is not quantized {where}.";
        else if (q == null)
            reason = $"op type {node.OpType} is not quantized {where} (name it in OpTypes to quantize its inputs and outputs anyway).";
        return q;
    }
}
