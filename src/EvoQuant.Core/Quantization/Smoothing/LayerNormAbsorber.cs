using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Smoothing;

/// <summary>LayerNormalization over the last axis: its scale and bias take the factors.</summary>
public sealed class LayerNormAbsorber : IChannelScaleAbsorber
{
    public static LayerNormAbsorber Instance { get; } = new();

    public bool CanAbsorb(NodeProto node, int channels, ChannelScaling scaling) =>
        QuantizationContext.IntAttribute(node, "axis", -1) == -1 && node.Input.Count >= 2 && node.Output.Skip(1).All(o => o.Length == 0)
        && scaling.ChannelVector(node.Input[1], channels) != null
        && (node.Input.Count < 3 || node.Input[2].Length == 0 || scaling.ChannelVector(node.Input[2], channels) != null);

    public void Absorb(NodeProto node, float[] factors, ChannelScaling scaling)
    {
        for (int i = 1; i < Math.Min(3, node.Input.Count); i++)
        {
            if (node.Input[i].Length == 0) continue;
            var c = scaling.ChannelVector(node.Input[i], factors.Length)!;
            scaling.ReplaceInput(node, i, new long[] { factors.Length }, c.Select((v, j) => v * factors[j]).ToArray());
        }
        scaling.MarkScaled(node.Output[0], factors);
    }
}
