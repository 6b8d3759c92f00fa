using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Operators;

/// <summary>Conv, ConvTranspose, Gemm: input 0 is an activation, input 1 the weight (per channel along
/// the output-channel axis), input 2 an optional bias stored as int32; the output is an activation.</summary>
public sealed class WeightedOpQuantizer : IOpQuantizer
{
    public string? TryDeclare(NodeProto node, QuantizationContext ctx, QuantizationPlan plan)
    {
        if (node.Input.Count < 2) return "it has no weight input.";
        string x = node.Input[0], w = node.Input[1];
        if (!ctx.IsFloat(x)) return $"its input '{x}' is not float32 ({TypeName(ctx, x)}).";
        if (!ctx.IsFloat(w)) return $"its weight '{w}' is not float32 ({TypeName(ctx, w)}).";

        plan.AddActivation(x);
        bool constantWeight = ctx.IsConstant(w);
        if (constantWeight) plan.AddWeight(w, ctx.Options.PerChannel ? ChannelAxis(node, ctx) : null, KernelLayout(node, ctx));
        else plan.AddActivation(w);

        if (node.Input.Count > 2 && node.Input[2].Length > 0 && constantWeight && ctx.IsConstant(node.Input[2]) && ctx.IsFloat(node.Input[2]))
        {
            float beta = node.OpType == "Gemm" ? QuantizationContext.FloatAttribute(node, "beta", 1f) : 1f;
            plan.AddBias(new BiasRequest(node.Input[2], x, w, node.Name, beta));
        }
        foreach (var o in node.Output.Take(1))
            if (ctx.IsFloat(o)) plan.AddActivation(o);
        return null;
    }

    /// <summary>The axis that indexes output channels, or null where one scale per channel would not
    /// line up with the bias (grouped ConvTranspose holds C_out/group channels on axis 1).</summary>
    private static int? ChannelAxis(NodeProto node, QuantizationContext ctx)
    {
        var w = ctx.Constant(node.Input[1])!;
        switch (node.OpType)
        {
            case "Conv":
                return w.Dims.Count >= 2 ? 0 : null;
            case "ConvTranspose":
                return w.Dims.Count >= 2 && QuantizationContext.IntAttribute(node, "group", 1) == 1 ? 1 : null;
            case "Gemm":
                if (w.Dims.Count != 2) return null;
                return QuantizationContext.IntAttribute(node, "transB", 0) != 0 ? 0 : 1;
            default:
                return null;
        }
    }

    /// <summary>How ONNX Runtime's integer kernel for this op walks the weight (QLinearConv reorders the
    /// filter channels-last; QGemm reads B as given), or null where no kernel sums 16-bit pairs: the
    /// depthwise kernel (one input and one output channel per group) widens to 16 bits and adds in 32
    /// (MLAS qdwconv), and ConvTranspose has no CPU integer kernel.</summary>
    private static EvoQuant.Numerics.ReductionLayout? KernelLayout(NodeProto node, QuantizationContext ctx)
    {
        var dims = ctx.Constant(node.Input[1])!.Dims;
        int rank = dims.Count;
        bool depthwise = rank >= 3 && dims[1] == 1 && QuantizationContext.IntAttribute(node, "group", 1) == dims[0];
        return node.OpType switch
        {
            "Conv" when rank >= 3 && !depthwise => EvoQuant.Numerics.ReductionLayout.ConvChannelsLast(rank),
            "Gemm" when rank == 2 => QuantizationContext.IntAttribute(node, "transB", 0) != 0
                ? EvoQuant.Numerics.ReductionLayout.RowsOf(2) : EvoQuant.Numerics.ReductionLayout.ColumnsOf(2),
            _ => null,
        };
    }

    internal static string TypeName(QuantizationContext ctx, string tensor) =>
        ctx.ElementType(tensor) is int t ? ElementTypes.Name(t) : "type unknown";
}
