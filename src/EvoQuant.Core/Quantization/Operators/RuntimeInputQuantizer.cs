using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Operators;

/// <summary>Ops quantized dynamically: input 0 is quantized at run time from its own range, the inputs at
/// <c>weights</c> are weights quantized offline (the emitter picks their layout and axis, and checks that they
/// are constants, folding exporters' shape ops and looking into enclosing graphs). Declares only inputs
/// that are present; the emitter gives the reasons a node stays float.</summary>
public sealed class RuntimeInputQuantizer(params int[] weights) : IOpQuantizer
{
    public string? TryDeclare(NodeProto node, QuantizationContext ctx, QuantizationPlan plan)
    {
        if (node.Input.Count > 0 && node.Input[0].Length > 0) plan.AddActivation(node.Input[0]);
        foreach (int w in weights)
            if (w < node.Input.Count && node.Input[w].Length > 0) plan.AddWeight(node.Input[w], null);
        return null;
    }
}
