using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Smoothing;

/// <summary>Add of a constant per channel (a bias, a decomposed LayerNorm's beta) to a tensor whose own
/// producer absorbs the factors and feeds only this Add: both take them.</summary>
public sealed class ConstantAddAbsorber : IChannelScaleAbsorber
{
    public static ConstantAddAbsorber Instance { get; } = new();

    public bool CanAbsorb(NodeProto node, int channels, ChannelScaling scaling)
    {
        int i = ConstantMulAbsorber.ConstantInput(node, channels, scaling);
        return i >= 0 && scaling.SoleProducer(node.Input[1 - i], node) is { } p && p.Absorber.CanAbsorb(p.Node, channels, scaling);
    }

    public void Absorb(NodeProto node, float[] factors, ChannelScaling scaling)
    {
        int i = ConstantMulAbsorber.ConstantInput(node, factors.Length, scaling);
        var (producer, absorber) = scaling.SoleProducer(node.Input[1 - i], node)!.Value;
        absorber.Absorb(producer, factors, scaling);
        var c = scaling.ChannelVector(node.Input[i], factors.Length)!;
        scaling.ReplaceInput(node, i, new long[] { factors.Length }, c.Select((v, j) => v * factors[j]).ToArray());
        scaling.MarkScaled(node.Output[0], factors);
    }
}
