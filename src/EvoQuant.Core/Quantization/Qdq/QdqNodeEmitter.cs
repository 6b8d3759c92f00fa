using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Provenance;
using EvoQuant.Quantization.Rewrite;

namespace EvoQuant.Quantization.Qdq;

/// <summary>The QDQ emission every registered op shares: the float op stays where it is, reading the
/// DequantizeLinear outputs the rewrite put on its inputs; it is recorded as the node that computes the source node.</summary>
internal sealed class QdqNodeEmitter : IQdqEmitter
{
    public static readonly QdqNodeEmitter Instance = new();

    public RewriteFormat Format => RewriteFormat.QDQ;

    public void Emit(NodeProto source, NodeProto copy, QdqRewriter rewrite) =>
        rewrite.RecordNode(source, NodeOutcome.Quantized, new[] { GraphRewrite.NodeKey(copy) });
}
