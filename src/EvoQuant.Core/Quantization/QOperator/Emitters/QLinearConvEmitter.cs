using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.QOperator.Emitters;

/// <summary>Conv as QLinearConv: per-channel weights are symmetric int8 (one zero point on every channel), the bias int32.</summary>
internal sealed class QLinearConvEmitter : QOperatorEmitter
{
    public override bool TryEmit(NodeProto node, QOperatorRewriter rw)
    {
        if (!rw.Ready(node.Input[0], node.Output[0]) || !rw.IsWeight(node.Input[1])) return false;
        string bias = node.Input.Count > 2 ? node.Input[2] : "";
        if (!rw.BiasReady(bias)) return false;
        var x = rw.Input(node.Input[0]);
        var w = rw.Weight(node.Input[1], forceSignedPerChannel: true);
        var inputs = new List<string> { x.Quantized, x.Scale, x.ZeroPoint!, w.Quantized, w.Scale, w.ZeroPoint! };
        var (ys, yz) = rw.ParamNames(node.Output[0]);
        inputs.Add(ys);
        inputs.Add(yz);
        if (bias.Length > 0) inputs.Add(rw.Bias(bias, x, node.Input[1]));
        rw.Emit(node, "QLinearConv", "", inputs, node.Attribute);
        return true;
    }
}
