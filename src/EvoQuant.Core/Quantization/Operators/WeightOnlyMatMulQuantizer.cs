using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Operators;

/// <summary>Weight-only MatMul and Gemm: a constant 2-D float weight B ([K, N], or [N, K] with Gemm's transB)
/// is block-quantized along K; A stays a float activation. Gemm with transA has no such form.</summary>
public sealed class WeightOnlyMatMulQuantizer : IOpQuantizer
{
    public string? TryDeclare(NodeProto node, QuantizationContext ctx, QuantizationPlan plan)
    {
        if (node.Input.Count < 2) return "it has fewer than two inputs.";
        string a = node.Input[0], b = node.Input[1];
        if (!ctx.IsFloat(b)) return $"its weight '{b}' is not float32 ({WeightedOpQuantizer.TypeName(ctx, b)}).";
        if (!ctx.IsConstant(b)) return $"its input B '{b}' is not a constant; weight-only quantization needs constant weights.";
        if (ctx.IsConstant(a)) return $"its input A '{a}' is a constant too (nothing runs at run time to multiply).";
        int rank = ctx.Constant(b)!.Dims.Count;
        if (rank != 2) return $"its weight '{b}' has rank {rank}; block quantization takes a 2-D [K, N] weight.";
        if (node.OpType == "Gemm" && QuantizationContext.IntAttribute(node, "transA", 0) != 0) return "transA=1 has no weight-only form.";
        plan.AddWeight(b, null);
        return null;
    }
}
