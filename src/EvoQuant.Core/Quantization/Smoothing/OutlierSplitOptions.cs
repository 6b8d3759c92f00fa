namespace EvoQuant.Quantization.Smoothing;

/// <summary>LLM.int8()-style outlier split (Dettmers et al., 2022), static: the few input channels of a MatMul
/// with a constant weight whose calibrated |max| stands far above the others' are computed in float, the rest
/// in 8 bits with the range of the remaining channels. An identity in float.</summary>
public sealed record OutlierSplitOptions
{
    /// <summary>A channel is an outlier when its |max| exceeds this many times the median channel's |max|.</summary>
    public double Ratio { get; init; } = 6;

    /// <summary>At most this many outlier channels per input (the largest first): beyond a few, the float part
    /// costs time and the input has no concentrated outliers.</summary>
    public int MaxChannels { get; init; } = 8;

    /// <summary>Per-channel extremes of the MatMul inputs on calibration samples (<see cref="ChannelRangeCollector"/>).</summary>
    public IReadOnlyDictionary<string, ChannelRange> ChannelRanges { get; init; } = new Dictionary<string, ChannelRange>();
}
