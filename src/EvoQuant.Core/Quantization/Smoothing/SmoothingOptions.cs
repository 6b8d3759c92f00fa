namespace EvoQuant.Quantization.Smoothing;

/// <summary>SmoothQuant-style migration of activation outliers into the weights before quantization: for
/// each MatMul with a constant weight, per input channel j, s_j = max|X_j|^alpha / max|W_j|^(1-alpha),
/// X' = X / s and W' = diag(s) W, an identity in float.</summary>
public sealed record SmoothingOptions
{
    /// <summary>How much of the activations' range moves into the weights (0: none, 1: all); 0.5 by default.</summary>
    public double Alpha { get; init; } = 0.5;

    /// <summary>Where the division cannot be folded into the producer's constants (its output has other
    /// readers, or it is no per-channel affine op), insert a Mul by 1/s; false leaves such inputs as they are.</summary>
    public bool InsertMul { get; init; } = true;

    /// <summary>Per-channel extremes of the MatMul inputs on calibration samples (<see cref="ChannelRangeCollector"/>).</summary>
    public IReadOnlyDictionary<string, ChannelRange> ChannelRanges { get; init; } = new Dictionary<string, ChannelRange>();
}
