using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization;

/// <summary>Knows one kind of operator: which of its inputs are activations, which are weights (and
/// their channel axis), which is a bias. It only declares into the plan; emitters rewrite the graph.</summary>
public interface IOpQuantizer
{
    /// <summary>Declares what to quantize for <paramref name="node"/>. Returns null when the node is
    /// quantized, or a reason a user understands when it stays float (and then declares nothing).</summary>
    string? TryDeclare(NodeProto node, QuantizationContext context, QuantizationPlan plan);
}
