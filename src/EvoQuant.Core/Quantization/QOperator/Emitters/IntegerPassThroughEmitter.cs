using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.QOperator.Emitters;

/// <summary>Data movement (MaxPool, Reshape, Transpose, Flatten, Squeeze, Unsqueeze) run by the op itself on the
/// integer tensor: the output shares the input's parameters, as the plan declared.</summary>
internal sealed class IntegerPassThroughEmitter : QOperatorEmitter
{
    public static readonly IntegerPassThroughEmitter Instance = new();

    public override bool TryEmit(NodeProto node, QOperatorRewriter rw)
    {
        string x = node.Input[0], y = node.Output[0];
        if (node.Output.Count(o => o.Length > 0) != 1 || !rw.Ready(x, y) || rw.Plan.Get(y)?.SharedWith != x) return false;
        rw.EmitOnIntegers(node);
        return true;
    }
}
