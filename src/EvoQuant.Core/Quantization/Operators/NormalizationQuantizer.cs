using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Operators;

/// <summary>BatchNormalization, InstanceNormalization, LayerNormalization: input 0 is an activation,
/// the constant scale (input 1) a per-tensor weight, the bias (input 2) int32 as for Conv, the output an
/// activation. Mean and variance of BatchNormalization stay float.</summary>
public sealed class NormalizationQuantizer : IOpQuantizer
{
    public string? TryDeclare(NodeProto node, QuantizationContext ctx, QuantizationPlan plan)
    {
        if (node.Input.Count < 2) return "it has no scale input.";
        string x = node.Input[0], scale = node.Input[1];
        if (!ctx.IsFloat(x)) return $"its input '{x}' is not float32 ({WeightedOpQuantizer.TypeName(ctx, x)}).";
        if (!ctx.IsFloat(scale)) return $"its scale '{scale}' is not float32.";
        plan.AddActivation(x);
        bool constantScale = ctx.IsConstant(scale);
        if (constantScale) plan.AddWeight(scale, null);
        else plan.AddActivation(scale);
        if (node.Input.Count > 2 && node.Input[2].Length > 0 && constantScale && ctx.IsConstant(node.Input[2]) && ctx.IsFloat(node.Input[2]))
            plan.AddBias(new BiasRequest(node.Input[2], x, scale, node.Name));
        if (ctx.IsFloat(node.Output[0])) plan.AddActivation(node.Output[0]);
        return null;
    }
}
