using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Rewrite;

namespace EvoQuant.Quantization.Dynamic;

/// <summary>Knows how one op type runs with weights quantized offline and activations quantized at run
/// time. <see cref="TryEmit"/> returns the nodes that replace the node (same outputs), or null with a reason.</summary>
internal interface IDynamicEmitter : IOpEmitter
{
    List<NodeProto>? TryEmit(NodeProto node, DynamicScope scope, out string? reason);
}

/// <summary>Base of the dynamic emitters.</summary>
internal abstract class DynamicEmitter : IDynamicEmitter
{
    public RewriteFormat Format => RewriteFormat.Dynamic;

    public abstract List<NodeProto>? TryEmit(NodeProto node, DynamicScope scope, out string? reason);
}
