using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Smoothing;

/// <summary>MatMul by a constant 2-D weight [M, K]: its output columns take the factors.</summary>
public sealed class MatMulColumnsAbsorber : IChannelScaleAbsorber
{
    public static MatMulColumnsAbsorber Instance { get; } = new();

    public bool CanAbsorb(NodeProto node, int channels, ChannelScaling scaling) =>
        node.Input.Count == 2 && scaling.Constant(node.Input[0]) == null && scaling.Dims(node.Input[1]) is { Length: 2 } d && d[1] == channels
        && scaling.Floats(node.Input[1]) != null;

    public void Absorb(NodeProto node, float[] factors, ChannelScaling scaling)
    {
        var w = scaling.Floats(node.Input[1])!;
        int k = factors.Length;
        var scaled = new float[w.Length];
        for (int r = 0; r < w.Length; r += k)
            System.Numerics.Tensors.TensorPrimitives.Multiply(w.AsSpan(r, k), factors, scaled.AsSpan(r, k));
        scaling.ReplaceInput(node, 1, scaling.Dims(node.Input[1])!, scaled);
        scaling.MarkScaled(node.Output[0], factors);
    }
}
