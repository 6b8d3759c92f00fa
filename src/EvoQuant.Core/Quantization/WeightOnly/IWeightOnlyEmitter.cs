using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Rewrite;

namespace EvoQuant.Quantization.WeightOnly;

/// <summary>Writes one op type's weight-only form: returns the nodes that replace the node (same outputs),
/// or null with a reason it stays float. Its bits argument is the width chosen for this node (8 for layers kept at 8 bits).</summary>
internal interface IWeightOnlyEmitter : IOpEmitter
{
    List<NodeProto>? TryEmit(NodeProto node, WeightOnlyRewriter rewriter, int bits, out string? reason);
}

/// <summary>Base of the weight-only emitters.</summary>
internal abstract class WeightOnlyEmitter : IWeightOnlyEmitter
{
    public RewriteFormat Format => RewriteFormat.WeightOnly;

    public abstract List<NodeProto>? TryEmit(NodeProto node, WeightOnlyRewriter rewriter, int bits, out string? reason);
}
