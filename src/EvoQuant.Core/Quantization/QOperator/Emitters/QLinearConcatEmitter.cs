using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Rewrite;

namespace EvoQuant.Quantization.QOperator.Emitters;

/// <summary>Concat as com.microsoft QLinearConcat: output parameters first, then each input's triple.</summary>
internal sealed class QLinearConcatEmitter : QOperatorEmitter
{
    public override bool TryEmit(NodeProto node, QOperatorRewriter rw)
    {
        if (!rw.Ready(node.Output[0]) || !node.Input.All(i => rw.Ready(i) || rw.IsConstantInput(i))) return false;
        var (ys, yz) = rw.ParamNames(node.Output[0]);
        var inputs = new List<string> { ys, yz };
        foreach (var i in node.Input)
        {
            var t = rw.Operand(i);
            inputs.AddRange(new[] { t.Quantized, t.Scale, t.ZeroPoint! });
        }
        rw.Emit(node, "QLinearConcat", GraphRewrite.MicrosoftDomain, inputs, node.Attribute);
        return true;
    }
}
