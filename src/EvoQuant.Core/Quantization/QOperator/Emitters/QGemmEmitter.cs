using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Rewrite;

namespace EvoQuant.Quantization.QOperator.Emitters;

/// <summary>Gemm as com.microsoft QGemm, its beta folded into the int32 bias.</summary>
internal sealed class QGemmEmitter : QOperatorEmitter
{
    public override bool TryEmit(NodeProto node, QOperatorRewriter rw)
    {
        if (!rw.Ready(node.Input[0], node.Output[0]) || !rw.IsWeight(node.Input[1])) return false;
        string bias = node.Input.Count > 2 ? node.Input[2] : "";
        if (!rw.BiasReady(bias)) return false;
        var a = rw.Input(node.Input[0]);
        var b = rw.Weight(node.Input[1], false);
        var (ys, yz) = rw.ParamNames(node.Output[0]);
        // Beta is folded into the int32 bias (scale = a * b * beta), so the attribute goes.
        var inputs = new List<string> { a.Quantized, a.Scale, a.ZeroPoint!, b.Quantized, b.Scale, b.ZeroPoint!, bias.Length > 0 ? rw.Bias(bias, a, node.Input[1]) : "", ys, yz };
        rw.Emit(node, "QGemm", GraphRewrite.MicrosoftDomain, inputs, node.Attribute.Where(x => x.Name != "beta"));
        return true;
    }
}
