using EvoQuant.Calibration;
using EvoQuant.Onnx;

namespace EvoQuant.Quantization.Smoothing;

/// <summary>Which per-channel ranges a quantization needs and when to measure them: the outlier split and
/// activation smoothing both read the MatMul inputs' channel ranges, so one pass over the samples feeds both,
/// and a model without such MatMuls (a CNN) costs no pass at all.</summary>
public static class ChannelRangeMeasurement
{
    /// <summary>Why no pass is needed for <paramref name="options"/> and <paramref name="smoothing"/> on
    /// <paramref name="model"/>, or null when one is.</summary>
    public static string? NotNeeded(OnnxModel model, QuantizationOptions options, SmoothingOptions? smoothing)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        if (smoothing == null && options.OutlierSplit == null) return "neither the outlier split nor smoothing is asked for";
        // Smoothing without a candidate is an error the collector reports; the default split merely has nothing to do.
        if (smoothing == null && ActivationSmoothing.Candidates(model).Count == 0)
            return "no MatMul with a constant 2-D weight: no input channels to split";
        return null;
    }

    /// <summary>The options with the channel ranges measured on <paramref name="samples"/> handed to the outlier
    /// split (when on) and to <paramref name="smoothing"/> (when given, it becomes the options' smoothing);
    /// the options unchanged when <see cref="NotNeeded"/> says so.</summary>
    public static QuantizationOptions Apply(OnnxModel model, QuantizationOptions options, SmoothingOptions? smoothing, IEnumerable<object> samples,
        CalibrationOptions? calibration = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (NotNeeded(model, options, smoothing) != null) return options;
        var ranges = ChannelRangeCollector.Collect(model, samples, calibration, cancellationToken);
        options = options.WithChannelRanges(ranges);
        if (smoothing != null) options = options with { Smoothing = smoothing with { ChannelRanges = ranges } };
        return options;
    }
}
