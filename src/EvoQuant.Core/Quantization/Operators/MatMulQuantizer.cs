using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Operators;

/// <summary>MatMul: each constant input is a weight (per channel along its last axis, the output
/// columns N of [..., K, N]), every other float input an activation; the output is an activation.</summary>
public sealed class MatMulQuantizer : IOpQuantizer
{
    public string? TryDeclare(NodeProto node, QuantizationContext ctx, QuantizationPlan plan)
    {
        if (node.Input.Count < 2) return "it has fewer than two inputs.";
        foreach (var i in node.Input)
            if (!ctx.IsFloat(i)) return $"its input '{i}' is not float32 ({WeightedOpQuantizer.TypeName(ctx, i)}).";

        // Two run-time inputs: B is an activation, which no weight scale can make pair-safe, so on a
        // target whose kernels add 16-bit pairs the product can saturate. It stays float there.
        if (!ctx.IsConstant(node.Input[0]) && !ctx.IsConstant(node.Input[1]) && ctx.WeightGuard == Targets.SaturationGuard.PairSafe)
            return $"both inputs are activations: on {ctx.Target.Resolved} ONNX Runtime adds pairs of 8-bit products into 16-bit sums, which can saturate (-WeightSaturation None quantizes it anyway).";

        for (int k = 0; k < 2; k++)
        {
            string t = node.Input[k];
            if (ctx.IsConstant(t))
            {
                int rank = ctx.Constant(t)!.Dims.Count;
                // Per channel only for B: a per-row scale of A would not factor out of the product.
                int? axis = ctx.Options.PerChannel && k == 1 && rank >= 2 ? rank - 1 : null;
                // B is what the integer GEMM reads column by column along K.
                plan.AddWeight(t, axis, k == 1 && rank >= 2 ? EvoQuant.Numerics.ReductionLayout.ColumnsOf(rank) : null);
            }
            else plan.AddActivation(t);
        }
        if (ctx.IsFloat(node.Output[0])) plan.AddActivation(node.Output[0]);
        return null;
    }
}
