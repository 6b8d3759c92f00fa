using System.Diagnostics;
using EvoQuant.Data;
using EvoQuant.Onnx;

namespace EvoQuant.Calibration;

/// <summary>The calibration entry point: samples in, <see cref="CalibrationTable"/> out.</summary>
public static class Calibrator
{
    /// <summary>A new, empty calibrator for the settings.</summary>
    public static ICalibrator Create(CalibrationSettings settings) => settings.Method switch
    {
        CalibrationMethod.MinMax => new MinMaxCalibrator(settings),
        CalibrationMethod.Entropy => new EntropyCalibrator(settings),
        CalibrationMethod.Percentile => new PercentileCalibrator(settings),
        CalibrationMethod.Auto => new AutoCalibrator(settings),
        // EQ's statistics are MinMax's (CalibrationRun then searches); its table is not a calibrator's state.
        CalibrationMethod.EQ => throw new ArgumentException("An EQ table cannot be merged or continued: each search ran on its own samples. Calibrate all the samples in one run."),
        _ => throw new ArgumentException($"Unknown calibration method {settings.Method}."),
    };

    /// <summary>Runs the model over the samples and returns each selected tensor's range. Items are read
    /// lazily (see <see cref="SampleSource"/>); memory is bounded by one batch plus the per-tensor
    /// statistics. Bad samples go to <see cref="CalibrationOptions.OnSampleError"/> (or are thrown when it
    /// is null). Throws <see cref="InvalidOperationException"/> when no sample could be used.</summary>
    public static CalibrationTable Run(OnnxModel model, IEnumerable<object> items, CalibrationOptions options,
        IProgress<CalibrationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        using var run = new CalibrationRun(model, options, progress, cancellationToken);
        run.TotalSamples = TryCountRows(items, run.Binder);
        foreach (var item in items)
        {
            if (!run.Add(item)) break;
        }
        return run.Complete();
    }

    // Total rows when it is cheap to know: in-memory items, .npy headers. Otherwise null.
    internal static long? TryCountRows(IEnumerable<object> items, InputBinder binder)
    {
        if (items is not System.Collections.ICollection) return null; // counting must not enumerate a lazy stream twice
        long total = 0;
        foreach (var item in items)
        {
            switch (item)
            {
                case string p when p.EndsWith(".npy", StringComparison.OrdinalIgnoreCase) && File.Exists(p):
                    try
                    {
                        var h = NpyReader.ReadHeader(p);
                        total += h.Shape.Length > 0 && binder.CanBatch ? h.Shape[0] : 1;
                    }
                    catch (SampleFormatException) { total += 1; }
                    break;
                case FileInfo f when f.Extension.Equals(".npy", StringComparison.OrdinalIgnoreCase) && f.Exists:
                    try
                    {
                        var h = NpyReader.ReadHeader(f.FullName);
                        total += h.Shape.Length > 0 && binder.CanBatch ? h.Shape[0] : 1;
                    }
                    catch (SampleFormatException) { total += 1; }
                    break;
                case NamedTensor t:
                    total += binder.CanBatch && t.Rank == binder.Inputs[0].Dims?.Length ? t.Rows : 1;
                    break;
                case string p when File.Exists(p) && !Directory.Exists(p):
                    total += 1;
                    break;
                default:
                    return null;
            }
        }
        return total;
    }
}
