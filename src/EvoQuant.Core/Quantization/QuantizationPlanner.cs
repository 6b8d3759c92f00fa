using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization;

/// <summary>Walks the graph in topological order, asks <see cref="NodeSelector"/> and each op quantizer,
/// and returns the plan plus a reason for every node left in float. Shared by all formats.</summary>
public static partial class QuantizationPlanner
{
    public static (QuantizationPlan Plan, List<SkippedNode> Skipped) Build(QuantizationContext context, OpQuantizerRegistry registry, CancellationToken ct = default)
    {
        var plan = new QuantizationPlan();
        var skipped = new List<SkippedNode>();
        var selector = new NodeSelector(context.Options, registry);
        foreach (var node in context.Graph.Nodes)
        {
            ct.ThrowIfCancellationRequested();
            if (node.OpType == "Constant" && string.IsNullOrEmpty(node.Domain)) continue; // values, not computation
            var q = selector.Select(node, out string? reason);
            if (q != null) reason = q.TryDeclare(node, context, plan);
            if (reason == null) plan.QuantizedNodes.Add(node);
            else skipped.Add(new SkippedNode(DisplayName(node), node.OpType, reason));
        }
        return (plan, skipped);
    }

    public static string DisplayName(NodeProto node) => node.Name.Length > 0 ? node.Name : $"({node.OpType} -> {string.Join(",", node.Output)})";
}
