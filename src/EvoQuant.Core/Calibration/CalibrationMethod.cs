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
    /// <summary>Per tensor, whichever of MinMax, Entropy and Percentile quantizes its values with the least
    /// squared error (clipping included), measured on the calibration data (see <see cref="AutoCalibrator"/>); then
    /// checked at the model's outputs against each of them used everywhere, the best kept (<see cref="AutoModelCheck"/>,
    /// in <see cref="CalibrationRun"/> on the first <see cref="CalibrationSettings.SearchRows"/> rows).</summary>
    Auto,
    /// <summary>EasyQuant (Wu et al. 2020): MinMax ranges (or <see cref="CalibrationSettings.SearchBase"/>'s), then, layer by layer in graph order, each Conv/MatMul/Gemm
    /// input's range scaled by the factor, and the layer's weight scales by theirs (searched alternately), whose quantized
    /// model gives the layer outputs closest (cosine) to the float model's on a bounded subset of the samples (see
    /// <see cref="EasyQuantSearch"/>; the weight factors travel in <see cref="CalibrationTable.WeightScaleFactors"/>).</summary>
    EQ,
}
