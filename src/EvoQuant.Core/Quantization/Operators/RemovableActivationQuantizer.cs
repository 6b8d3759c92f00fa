using EvoQuant.Onnx;
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
        if (plan.IsRemoved(producer)) return false; // Relu after Relu: keep one
        // The clamp moves into the quantization of the producer's output, which only exists for sure when
        // the producer is quantized (QOperator writes no Q/DQ between two float nodes: the op would vanish).
        if (!plan.IsQuantized(producer)) return false;
        if (ctx.Graph.Consumers(x).Count != 1 || ctx.Graph.IsGraphOutput(x) || ctx.Graph.IsGraphOutput(y)) return false;
        if (ctx.Graph.Proto.Input.Any(i => i.Name == x)) return false;
        // A Clip whose bounds are computed at run time cannot be folded into constants.
        for (int i = 1; i < node.Input.Count; i++)
            if (node.Input[i].Length > 0 && !ctx.IsConstant(node.Input[i])) return false;
        // Folding moves the clamp into the output's QuantizeLinear, so that output needs a range, and
        // that range (widened to include 0, as quantization does) must clamp exactly as the op would:
        // a symmetric table range such as [-6, 6] after a ReLU6 would let negatives through.
        if (OutputRange(y, o) is not var (min, max)) return false;
        var (low, high) = Bounds(node, ctx);
        return Math.Min(min, 0f) >= low && Math.Max(max, 0f) <= high;
    }

    // The range the output's quantization will use; null when only a scale is overridden (its grid is
    // not known here, so the op is kept).
    private static (float Min, float Max)? OutputRange(string y, QuantizationOptions o)
    {
        if (o.TensorOverrides.TryGetValue(y, out var ov))
        {
            if (ov.RangeMin is float lo && ov.RangeMax is float hi && ov.Scale == null) return (lo, hi);
            if (ov.Scale != null || ov.RangeMin != null || ov.RangeMax != null) return null;
        }
        return o.ActivationRanges.TryGetValue(y, out var r) ? (r.Min, r.Max) : null;
    }

    /// <summary>What the op lets through: [0, inf) for Relu; Clip's min and max (inputs since opset 11,
    /// attributes before), unbounded where absent.</summary>
    private static (float Low, float High) Bounds(NodeProto node, QuantizationContext ctx)
    {
        if (node.OpType == "Relu") return (0f, float.PositiveInfinity);
        float low = float.NegativeInfinity, high = float.PositiveInfinity;
        foreach (var a in node.Attribute)
        {
            if (a.Name == "min") low = a.F;
            if (a.Name == "max") high = a.F;
        }
        if (node.Input.Count > 1 && node.Input[1].Length > 0) low = ScalarOf(node.Input[1], ctx);
        if (node.Input.Count > 2 && node.Input[2].Length > 0) high = ScalarOf(node.Input[2], ctx);
        return (low, high);
    }

    private static float ScalarOf(string tensor, QuantizationContext ctx) =>
        ctx.Model.GetFloats(ctx.Constant(tensor)!) is { Length: 1 } v ? v[0] : float.NaN; // NaN compares false: not folded
}
