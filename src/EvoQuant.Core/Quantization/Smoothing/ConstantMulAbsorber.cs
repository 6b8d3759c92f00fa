using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Smoothing;

/// <summary>Mul by a constant of one value, or one per channel (GELU's final x 0.5, a decomposed LayerNorm's
/// gamma): the constant takes the factors.</summary>
public sealed class ConstantMulAbsorber : IChannelScaleAbsorber
{
    public static ConstantMulAbsorber Instance { get; } = new();

    public bool CanAbsorb(NodeProto node, int channels, ChannelScaling scaling) => ConstantInput(node, channels, scaling) >= 0;

    public void Absorb(NodeProto node, float[] factors, ChannelScaling scaling)
    {
        int i = ConstantInput(node, factors.Length, scaling);
        var c = scaling.ChannelVector(node.Input[i], factors.Length)!;
        scaling.ReplaceInput(node, i, new long[] { factors.Length }, c.Select((v, j) => v * factors[j]).ToArray());
        scaling.MarkScaled(node.Output[0], factors);
    }

    // The index of the one constant per-channel input, or -1.
    internal static int ConstantInput(NodeProto node, int channels, ChannelScaling scaling)
    {
        if (node.Input.Count != 2) return -1;
        bool first = scaling.ChannelVector(node.Input[0], channels) != null, second = scaling.ChannelVector(node.Input[1], channels) != null;
        return first == second ? -1 : first ? 0 : 1;
    }
}
