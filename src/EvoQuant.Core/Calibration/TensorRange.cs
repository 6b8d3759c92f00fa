namespace EvoQuant.Calibration;

/// <summary>The calibrated range of one tensor: what was seen (<see cref="Min"/>, <see cref="Max"/>) and
/// the range chosen for quantization (<see cref="RangeMin"/>, <see cref="RangeMax"/>). The statistics
/// needed to merge tables (histogram, per-batch sums) travel with the row.</summary>
public sealed record TensorRange(string Tensor, CalibrationMethod Method, float Min, float Max, float RangeMin, float RangeMax)
{
    /// <summary>Finite values seen.</summary>
    public long ElementCount { get; init; }

    /// <summary>Batches in which the tensor was seen: the caller's batches (BatchSize rows, or one sample when
    /// the batch axis is static), however many ONNX Runtime runs the memory budget cut them into.</summary>
    public long BatchCount { get; init; }

    /// <summary>NaN and infinite values seen (left out of every statistic).</summary>
    public long NonFiniteCount { get; init; }

    /// <summary>Entropy and Percentile: the histogram the range was chosen from.</summary>
    public HistogramData? Histogram { get; init; }

    /// <summary>MinMax: sums of per-batch minima and maxima (for MovingAverage and merging).</summary>
    public double BatchMinSum { get; init; }

    public double BatchMaxSum { get; init; }

    /// <summary>Largest |value| of the chosen range.</summary>
    public float AbsMax => Math.Max(Math.Abs(RangeMin), Math.Abs(RangeMax));

    public override string ToString() => $"{Tensor}: [{RangeMin}, {RangeMax}] (seen [{Min}, {Max}], {Method})";
}
