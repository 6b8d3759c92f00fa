using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Smoothing;

/// <summary>An op fact the outlier split needs: the op is linear in its input's channels (last axis), so it
/// can compute a few channels apart and add the two results (a MatMul by a constant weight: rows of the weight
/// per input channel). Registered per op type in <see cref="OpQuantizerRegistry"/>.</summary>
public interface IChannelSplitter
{
    /// <summary>Whether <paramref name="node"/> reads <paramref name="channels"/> channels of its first input
    /// through a constant it can split. Changes nothing.</summary>
    bool CanSplit(NodeProto node, int channels, ChannelScaling scaling);

    /// <summary>Makes <paramref name="node"/> ignore <paramref name="channels"/> of its first input and returns
    /// the nodes that add the product of <paramref name="outliers"/> (those channels alone, in that order), to
    /// run after it, in order; the last writes the node's original output, the node itself a new one.
    /// <paramref name="floatNodes"/> gets the nodes that must stay float.</summary>
    IReadOnlyList<NodeProto> Split(NodeProto node, int[] channels, string outliers, ChannelScaling scaling, ICollection<NodeProto> floatNodes);
}
