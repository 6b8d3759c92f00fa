using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Rewrite;

namespace EvoQuant.Quantization.QOperator.Emitters;

/// <summary>Add and Mul as com.microsoft QLinearAdd / QLinearMul; a constant operand is quantized per tensor.</summary>
internal sealed class QLinearBinaryEmitter(string op) : QOperatorEmitter
{
    public override bool TryEmit(NodeProto node, QOperatorRewriter rw)
    {
        if (node.Input.Count != 2 || !rw.Ready(node.Output[0]) || !node.Input.All(i => rw.Ready(i) || rw.IsConstantInput(i))) return false;
        var a = rw.Operand(node.Input[0]);
        var b = rw.Operand(node.Input[1]);
        var (ys, yz) = rw.ParamNames(node.Output[0]);
        rw.Emit(node, op, GraphRewrite.MicrosoftDomain, new List<string> { a.Quantized, a.Scale, a.ZeroPoint!, b.Quantized, b.Scale, b.ZeroPoint!, ys, yz }, Array.Empty<AttributeProto>());
        return true;
    }
}
