using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Rewrite;

namespace EvoQuant.Quantization.QOperator;

/// <summary>The integer operator of one op type in the QOperator format.</summary>
internal interface IQOperatorEmitter : IOpEmitter
{
    /// <summary>Writes the integer form of <paramref name="node"/> (the node in the output model) through the
    /// rewrite's helpers, or returns false, having written nothing, when its tensors are not all quantized
    /// (the node then stays float between a DequantizeLinear and a QuantizeLinear).</summary>
    bool TryEmit(NodeProto node, QOperatorRewriter rewrite);
}

/// <summary>Base of the QOperator emitters.</summary>
internal abstract class QOperatorEmitter : IQOperatorEmitter
{
    public RewriteFormat Format => RewriteFormat.QOperator;

    public abstract bool TryEmit(NodeProto node, QOperatorRewriter rewrite);
}
