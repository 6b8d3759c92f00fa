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
        var selector = new NodeSelector(context.Options, registry, context.Graph);
        plan.KeptFloatDecision = selector.KeptFloatDecision;
        foreach (var node in context.Graph.Nodes)
        {
            ct.ThrowIfCancellationRequested();
            if (node.OpType == "Constant" && string.IsNullOrEmpty(node.Domain)) continue; // values, not computation
            var r = selector.SelectRegistration(node, out string? reason);
            if (r != null) reason = r.Declarer.TryDeclare(node, context, plan);
            if (reason == null)
            {
                plan.QuantizedNodes.Add(node);
                plan.Registrations[node] = r!;
            }
            else
            {
                skipped.Add(new SkippedNode(DisplayName(node), node.OpType, reason));
                plan.LeftFloat[node] = reason;
            }
        }
        return (plan, skipped);
    }

    public static string DisplayName(NodeProto node) => node.Name.Length > 0 ? node.Name : $"({node.OpType} -> {string.Join(",", node.Output)})";
}
