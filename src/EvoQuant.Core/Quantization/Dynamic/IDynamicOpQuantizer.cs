using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Dynamic;

/// <summary>Knows how one op type runs with weights quantized offline and activations quantized at run
/// time. <see cref="TryQuantize"/> returns the nodes that replace the node (same outputs), or null with a reason.</summary>
internal interface IDynamicOpQuantizer
{
    List<NodeProto>? TryQuantize(NodeProto node, DynamicScope scope, out string? reason);
}
