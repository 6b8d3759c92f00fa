using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Operators;

/// <summary>Ops that only move or select values (Reshape, Transpose, Squeeze, Unsqueeze, Flatten, Slice,
/// MaxPool, AveragePool, Resize, Split, Gather ...): their outputs reuse the input's scale and zero point,
/// so an integer kernel can run them without requantizing. As in the reference tool they are quantized
/// only when their input already is (or, for Gather, when the data is a constant table).</summary>
public sealed class PassThroughQuantizer : IOpQuantizer
{
    private readonly int _minOpset;
    private readonly bool _quantizeConstantData;

    /// <param name="minOpset">Opset from which the ONNX op accepts 8-bit inputs (MaxPool: 12).</param>
    /// <param name="quantizeConstantData">Quantize a constant data input (Gather's embedding tables).</param>
    public PassThroughQuantizer(int minOpset = 0, bool quantizeConstantData = false)
    {
        _minOpset = minOpset;
        _quantizeConstantData = quantizeConstantData;
    }

    public string? TryDeclare(NodeProto node, QuantizationContext ctx, QuantizationPlan plan)
    {
        if (node.Input.Count == 0) return "it has no input.";
        string x = node.Input[0];
        if (!ctx.IsFloat(x)) return $"its input '{x}' is not float32 ({WeightedOpQuantizer.TypeName(ctx, x)}).";
        if (ctx.Opset < _minOpset) return $"{node.OpType} takes 8-bit inputs only from opset {_minOpset}; the model uses opset {ctx.Opset}.";

        bool constantData = _quantizeConstantData && ctx.IsConstant(x);
        if (!plan.IsMarked(x) && !constantData)
            return $"its input '{x}' is not quantized, so this data-movement op stays float (it would only add a Q/DQ pair).";
        if (constantData) plan.AddActivation(x);

        // TopK's second output (indices) and MaxPool's are int64 and stay as they are.
        foreach (var o in node.Output)
            if (o.Length > 0 && ctx.IsFloat(o)) plan.AddShared(o, x);
        return null;
    }
}
