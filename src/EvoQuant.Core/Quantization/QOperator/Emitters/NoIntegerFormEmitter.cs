using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.QOperator.Emitters;

/// <summary>Ops registered only so that they can fold into their producer (Clip): the QOperator format has no
/// integer form for them, so one that cannot fold stays float.</summary>
internal sealed class NoIntegerFormEmitter : QOperatorEmitter
{
    public static readonly NoIntegerFormEmitter Instance = new();

    public override bool TryEmit(NodeProto node, QOperatorRewriter rw) => false;
}
