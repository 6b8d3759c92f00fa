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
        _ => throw new ArgumentException($"Unknown calibration method {settings.Method}."),
    };

    /// <summary>Runs the model over the samples and returns each selected tensor's range. Items are read
    /// lazily (see <see cref="SampleSource"/>); memory is bounded by one batch plus the per-tensor
    /// statistics. Bad samples go to <see cref="CalibrationOptions.OnSampleError"/> (or are thrown when it
    /// is null). Throws <see cref="InvalidOperationException"/> when no sample could be used.</summary>
    public static CalibrationTable Run(OnnxModel model, IEnumerable<object> items, CalibrationOptions options,
        IProgress<CalibrationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(options);
        var settings = options.ToSettings();
        settings.Validate();
        if (options.BatchSize < 1) throw new ArgumentException($"BatchSize must be at least 1; got {options.BatchSize}.");

        var selection = new CalibrationTensorSelector(options.OpTypes, options.IncludeNodes, options.ExcludeNodes).Select(model);
        if (selection.Tensors.Count == 0)
            throw new InvalidOperationException("No tensor of the model is selected for calibration (check OpTypes / IncludeNodes / ExcludeNodes).");
        var binder = new InputBinder(model);
        var calibrator = Create(settings);
        using var session = new CalibrationSession(model, selection, options.IntraOpThreads);

        bool canBatch = binder.CanBatch;
        var source = new SampleSource(items, new SampleSourceOptions { SplitRows = canBatch && binder.Inputs.Count == 1 ? options.BatchSize : null });
        var batcher = new SampleBatcher(canBatch, options.BatchSize);
        long? total = TryCountRows(items, binder);
        var clock = Stopwatch.StartNew();
        long samples = 0, batches = 0;
        int errors = 0;
        bool stop = false;

        void RunBatch(SampleBatch b)
        {
            session.Run(b.Inputs, calibrator, cancellationToken);
            samples += b.Rows;
            batches++;
            progress?.Report(new CalibrationProgress(samples, total, batches, errors, clock.Elapsed, b.Sources[^1]));
        }

        bool Fail(string where, Exception e)
        {
            errors++;
            if (options.OnSampleError == null) return false;
            return options.OnSampleError(new SampleError(where, e)) == SampleErrorAction.Continue;
        }

        foreach (var item in source.Read())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (item.Error != null)
            {
                if (!Fail(item.Source, item.Error))
                {
                    if (options.OnSampleError == null) throw item.Error;
                    stop = true;
                    break;
                }
                continue;
            }
            BoundSample bound;
            try { bound = binder.Bind(item.Sample!); }
            catch (SampleMismatchException e)
            {
                if (!Fail(item.Source, e))
                {
                    if (options.OnSampleError == null) throw;
                    stop = true;
                    break;
                }
                continue;
            }
            foreach (var b in batcher.Add(bound)) RunBatch(b);
        }
        if (!stop) foreach (var b in batcher.Flush()) RunBatch(b);
        if (samples == 0)
            throw new InvalidOperationException(errors > 0 ? $"None of the samples could be used ({errors} failed)." : "No samples were given.");

        var ranges = calibrator.ComputeRanges();
        // Tensors selected but never seen (e.g. in a branch that did not run) are reported, not invented.
        var seen = ranges.Select(r => r.Tensor).ToHashSet(StringComparer.Ordinal);
        var skipped = session.Skipped.Concat(session.Tensors.Where(t => !seen.Contains(t)).Select(t => new SkippedTensor(t, "no values were produced"))).ToList();
        return new CalibrationTable(settings, ranges, skipped) { SampleCount = samples, ModelName = model.Name, ErrorCount = errors };
    }

    // Total rows when it is cheap to know: in-memory items, .npy headers. Otherwise null.
    private static long? TryCountRows(IEnumerable<object> items, InputBinder binder)
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
