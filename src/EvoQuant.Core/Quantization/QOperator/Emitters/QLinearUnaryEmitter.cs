using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Rewrite;

namespace EvoQuant.Quantization.QOperator.Emitters;

/// <summary>One-input ops with a com.microsoft integer form (QLinearGlobalAveragePool, QLinearAveragePool,
/// QLinearSigmoid, QLinearLeakyRelu) that requantize to the output's parameters.</summary>
/// <param name="attributes">The attributes of the integer op, from the float node's.</param>
internal sealed class QLinearUnaryEmitter(string op, Func<NodeProto, AttributeProto[]> attributes) : QOperatorEmitter
{
    public QLinearUnaryEmitter(string op) : this(op, _ => Array.Empty<AttributeProto>()) { }

    public static AttributeProto[] Same(NodeProto node) => node.Attribute.ToArray();

    public override bool TryEmit(NodeProto node, QOperatorRewriter rw)
    {
        if (!rw.Ready(node.Input[0], node.Output[0])) return false;
        var x = rw.Input(node.Input[0]);
        var (ys, yz) = rw.ParamNames(node.Output[0]);
        rw.Emit(node, op, GraphRewrite.MicrosoftDomain, new List<string> { x.Quantized, x.Scale, x.ZeroPoint!, ys, yz }, attributes(node));
        return true;
    }
}
