using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.QOperator.Emitters;

/// <summary>MatMul as QLinearMatMul; either input may be a weight or a run-time tensor.</summary>
internal sealed class QLinearMatMulEmitter : QOperatorEmitter
{
    public override bool TryEmit(NodeProto node, QOperatorRewriter rw)
    {
        if (!rw.Ready(node.Output[0]) || !node.Input.All(i => rw.IsWeight(i) || rw.Ready(i))) return false;
        var a = rw.IsWeight(node.Input[0]) ? rw.Weight(node.Input[0], false) : rw.Input(node.Input[0]);
        var b = rw.IsWeight(node.Input[1]) ? rw.Weight(node.Input[1], false) : rw.Input(node.Input[1]);
        var (ys, yz) = rw.ParamNames(node.Output[0]);
        rw.Emit(node, "QLinearMatMul", "", new List<string> { a.Quantized, a.Scale, a.ZeroPoint!, b.Quantized, b.Scale, b.ZeroPoint!, ys, yz }, Array.Empty<AttributeProto>());
        return true;
    }
}
