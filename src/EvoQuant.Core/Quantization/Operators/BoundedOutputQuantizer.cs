using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Operators;

/// <summary>Ops whose output range is fixed by their definition (Softmax, Sigmoid, HardSigmoid: [0, 1];
/// Tanh: [-1, 1]): the input is an activation, the output gets that range whatever calibration saw. A
/// calibrated range inside it would clip confident outputs: Entropy calibration with 2048 bins put
/// PaddleOCR det's final Sigmoid at [0, 0.064], erasing every text pixel.</summary>
public sealed class BoundedOutputQuantizer(float lo, float hi) : IOpQuantizer
{
    public string? TryDeclare(NodeProto node, QuantizationContext ctx, QuantizationPlan plan)
    {
        string x = node.Input[0];
        if (!ctx.IsFloat(x)) return $"its input '{x}' is not float32 ({WeightedOpQuantizer.TypeName(ctx, x)}).";
        plan.AddActivation(x);
        plan.AddActivation(node.Output[0], new ActivationRange(lo, hi));
        return null;
    }
}
