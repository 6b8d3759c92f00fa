using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Operators;

/// <summary>Softmax: the input is an activation; the output is a probability, so its range is [0, 1]
/// whatever calibration saw (a calibrated max below 1 would clip confident predictions).</summary>
public sealed class SoftmaxQuantizer : IOpQuantizer
{
    public string? TryDeclare(NodeProto node, QuantizationContext ctx, QuantizationPlan plan)
    {
        string x = node.Input[0];
        if (!ctx.IsFloat(x)) return $"its input '{x}' is not float32 ({WeightedOpQuantizer.TypeName(ctx, x)}).";
        plan.AddActivation(x);
        plan.AddActivation(node.Output[0], new ActivationRange(0f, 1f));
        return null;
    }
}
