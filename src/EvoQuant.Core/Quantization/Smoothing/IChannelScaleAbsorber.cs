using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Smoothing;

/// <summary>An op fact smoothing needs: whether an op can multiply its output's channels (last axis) by a
/// positive factor each by changing only its constants (per-channel affine ops: LayerNormalization's scale
/// and bias, a Mul or Add by a constant, a MatMul's weight columns), so the division by the smoothing
/// factors costs nothing at run time. Registered per op type in <see cref="OpQuantizerRegistry"/>.</summary>
public interface IChannelScaleAbsorber
{
    /// <summary>Whether <paramref name="node"/> can scale its first output's <paramref name="channels"/> channels.
    /// Changes nothing.</summary>
    bool CanAbsorb(NodeProto node, int channels, ChannelScaling scaling);

    /// <summary>Makes <paramref name="node"/>'s first output that times <paramref name="factors"/> (after
    /// <see cref="CanAbsorb"/> said yes).</summary>
    void Absorb(NodeProto node, float[] factors, ChannelScaling scaling);
}
