namespace EvoQuant.Calibration;

/// <summary>The files a calibration table is saved as.</summary>
public enum CalibrationTableFormat
{
    /// <summary>Lossless JSON, histograms included: the only form that can be merged later.</summary>
    Json,

    /// <summary>calibration.cache text as ONNX Runtime's quantization tool writes it: one
    /// "&lt;tensor&gt; &lt;max |x|&gt;" line per tensor.</summary>
    Cache,

    /// <summary>TensorRT's own calibrator cache: a "TRT-&lt;version&gt;-&lt;calibrator&gt;" line, then
    /// "&lt;tensor&gt;: &lt;scale&gt;" with the float32 scale in hex.</summary>
    TensorRT,
}
