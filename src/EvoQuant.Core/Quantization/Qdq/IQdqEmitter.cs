using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Rewrite;

namespace EvoQuant.Quantization.Qdq;

/// <summary>The QDQ form of one op type. The rewrite has already put a DequantizeLinear on every input and a
/// QuantizeLinear/DequantizeLinear pair on every output the plan declared; the emitter finishes the node
/// (the float op itself stays) and records it.</summary>
internal interface IQdqEmitter : IOpEmitter
{
    /// <param name="source">The planned node, as in the model given to the quantizer.</param>
    /// <param name="copy">The same node in the output model, inputs already rewired.</param>
    void Emit(NodeProto source, NodeProto copy, QdqRewriter rewrite);
}
