namespace EvoQuant.Calibration;

/// <summary>How a tensor's range is chosen from the values it took.</summary>
public enum CalibrationMethod
{
    /// <summary>Smallest and largest value seen (or the mean of per-batch extremes with MovingAverage).</summary>
    MinMax,
    /// <summary>The histogram window minimising KL(P||Q) against its int8 quantization (TensorRT's method).</summary>
    Entropy,
    /// <summary>The Percentile-th percentile of |x|, as a symmetric range clipped to what was seen.</summary>
    Percentile,
}
