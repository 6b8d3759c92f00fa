using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Operators;

/// <summary>Relu and Clip. When the activation is asymmetric and the op's input is used by it alone,
/// the op is removed: its producer writes the op's output and the QuantizeLinear that follows clamps to
/// the op's range (the calibrated [0, max] of a ReLU, [0, 6] at most for a ReLU6), as the reference tool
/// does. Otherwise it is quantized like any other op.</summary>
public sealed class RemovableActivationQuantizer : IOpQuantizer
{
    public string? TryDeclare(NodeProto node, QuantizationContext ctx, QuantizationPlan plan)
    {
        string x = node.Input[0], y = node.Output[0];
        if (!ctx.IsFloat(x)) return $"its input '{x}' is not float32 ({WeightedOpQuantizer.TypeName(ctx, x)}).";

        if (CanFold(node, ctx, plan))
        {
            plan.RemovedNodes.Add(node);
            plan.OutputRenames[x] = y;
            plan.Remove(x);
        }
        else plan.AddActivation(x);
        plan.AddActivation(y);
        return null;
    }

    private static bool CanFold(NodeProto node, QuantizationContext ctx, QuantizationPlan plan)
    {
        string x = node.Input[0], y = node.Output[0];
        var o = ctx.Options;
        if (o.ActivationSymmetric) return false; // a symmetric range keeps negatives the op must cut
        if (o.Mode != QuantMode.Static) return false;
        if (ctx.Graph.Producer(x) is not { } producer || producer.Output.Count != 1) return false;
        if (plan.RemovedNodes.Contains(producer)) return false; // Relu after Relu: keep one
        if (ctx.Graph.Consumers(x).Count != 1 || ctx.Graph.IsGraphOutput(x) || ctx.Graph.IsGraphOutput(y)) return false;
        if (ctx.Graph.Proto.Input.Any(i => i.Name == x)) return false;
        // Folding moves the clamp into the output's QuantizeLinear, so that output needs a range.
        bool hasRange = o.ActivationRanges.ContainsKey(y)
            || (o.TensorOverrides.TryGetValue(y, out var ov) && (ov.Scale != null || (ov.RangeMin != null && ov.RangeMax != null)));
        if (!hasRange) return false;
        // A Clip whose bounds are computed at run time cannot be folded into constants.
        for (int i = 1; i < node.Input.Count; i++)
            if (node.Input[i].Length > 0 && !ctx.IsConstant(node.Input[i])) return false;
        return true;
    }
}
