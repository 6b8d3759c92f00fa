using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Operators;

/// <summary>MatMul: each constant input is a weight (per channel along its last axis, the output
/// columns N of [..., K, N], when asked or when its columns' ranges differ, see <see cref="ColumnsDiffer"/>),
/// every other float input an activation; the output is an activation, or (QDQ) left to its consumers.</summary>
/// <param name="outputToConsumers">Leave the output to its consumers: one that is quantized declares it,
/// else ONNX Runtime runs the QDQ MatMul as MatMulIntegerToFloat (integer product, float output) and no
/// range of the product is needed. A range there would requantize a transformer's projections, whose
/// outlier channels per-tensor 8 bits cannot hold. QLinearMatMul (QOperator) needs the output's range.</param>
/// <param name="channelsFromData">Per channel also where <see cref="ColumnsDiffer"/>, without PerChannel (from opset 13,
/// where DequantizeLinear takes an axis; an older model keeps one scale rather than failing).</param>
public sealed class MatMulQuantizer(bool outputToConsumers = false, bool channelsFromData = false) : IOpQuantizer
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
                int? axis = k == 1 && rank >= 2 && (ctx.Options.PerChannel || channelsFromData && ctx.Opset >= 13 && ColumnsDiffer(ctx, t)) ? rank - 1 : null;
                // B is what the integer GEMM reads column by column along K.
                plan.AddWeight(t, axis, k == 1 && rank >= 2 ? EvoQuant.Numerics.ReductionLayout.ColumnsOf(rank) : null);
            }
            else plan.AddActivation(t);
        }
        if (!outputToConsumers && ctx.IsFloat(node.Output[0])) plan.AddActivation(node.Output[0]);
        return null;
    }

    /// <summary>Per-tensor scales leave the median column of the weight fewer than half the levels of the
    /// widest one: per channel then, whatever <see cref="QuantizationOptions.PerChannel"/> says (it costs one
    /// scale a column and runs as fast). Transformer projections are like that (all-MiniLM-L6-v2: embedding
    /// cosine 0.95 per tensor, 0.99 per channel).</summary>
    internal static bool ColumnsDiffer(QuantizationContext ctx, string weight)
    {
        var t = ctx.Constant(weight)!;
        int columns = (int)t.Dims[^1];
        var values = ctx.Model.GetFloats(t);
        if (columns < 2 || values.Length < columns) return false;
        var maxima = new float[columns];
        var row = new float[columns];
        for (int start = 0; start + columns <= values.Length; start += columns)
        {
            System.Numerics.Tensors.TensorPrimitives.Abs(values.AsSpan(start, columns), row);
            System.Numerics.Tensors.TensorPrimitives.Max(maxima, row, maxima);
        }
        float widest = System.Numerics.Tensors.TensorPrimitives.Max(maxima);
        Array.Sort(maxima);
        return widest > 0 && maxima[columns / 2] < 0.5f * widest;
    }
}
