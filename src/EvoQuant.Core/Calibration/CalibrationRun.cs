using System.Diagnostics;
using EvoQuant.Data;
using EvoQuant.Onnx;

namespace EvoQuant.Calibration;

/// <summary>A calibration in progress that takes items one at a time, so a pipeline (a cmdlet's
/// ProcessRecord) can stream samples without buffering them: each item is read, bound, batched, run
/// and dropped; only the per-tensor statistics stay. Finish with <see cref="Complete"/>.</summary>
public sealed class CalibrationRun : IDisposable
{
    private readonly CalibrationOptions _options;
    private readonly IProgress<CalibrationProgress>? _progress;
    private readonly ICalibrator _calibrator;
    private readonly CalibrationSession _session;
    private readonly SampleFeed _feed;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly OnnxModel _model;
    private long _batches;
    private bool _started;
    private readonly List<CalibrationTable> _continued = new();
    private readonly SearchSamples? _searchSamples;
    private readonly CancellationToken _cancellation;
    private readonly Quantization.Smoothing.ChannelRangeCollector? _channels;

    public CalibrationRun(OnnxModel model, CalibrationOptions options, IProgress<CalibrationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _progress = progress;
        var asked = options.ToSettings();
        asked.Validate();
        if (options.BatchSize < 1) throw new ArgumentException($"BatchSize must be at least 1; got {options.BatchSize}.");
        if (options.MaxBatchOutputBytes < 1) throw new ArgumentException($"MaxBatchOutputBytes must be positive; got {options.MaxBatchOutputBytes}.");
        if (options.MaxHistogramBytes < 1) throw new ArgumentException($"MaxHistogramBytes must be positive; got {options.MaxHistogramBytes}.");

        Selection = new CalibrationTensorSelector(options.OpTypes, options.IncludeNodes, options.ExcludeNodes, options.Registry).Select(model);
        if (Selection.Tensors.Count == 0)
            throw new InvalidOperationException("No tensor of the model is selected for calibration (check OpTypes / IncludeNodes / ExcludeNodes).");
        // More bins than the histogram budget holds are reduced (the table's settings record the bins used).
        HistogramPlan = HistogramMemoryPlan.For(asked, Selection.Tensors.Count, options.MaxHistogramBytes);
        Settings = HistogramPlan.Apply(asked);
        try { Binder = new InputBinder(model); }
        catch (NotSupportedException e) { throw new ModelRunException($"'{model.Name}' cannot be calibrated: {e.Message}", e); }
        // EQ starts from its base method's statistics (MinMax's by default) and keeps the first rows for its search.
        _calibrator = Settings.Method == CalibrationMethod.EQ
            ? Calibrator.Create(Settings.BaseSettings)
            : Calibrator.Create(Settings);
        // EQ's search and Auto's output check run on the first rows, kept.
        if (Settings.Method is CalibrationMethod.EQ or CalibrationMethod.Auto) _searchSamples = new SearchSamples(Settings.EffectiveSearchRows);
        // Entropy takes the histogram of a tensor that clamps or moves another's from that one's values, and
        // does not fetch it (see ClampFollowers).
        var followers = _calibrator.FollowsClamps && options.ShareClampedHistograms ? ClampFollowers.Plan(model, Selection.Tensors) : null;
        try
        {
            // A calibrator that needs only extremes lets ONNX Runtime reduce in the graph, so activations are not all kept.
            _session = new CalibrationSession(model, Selection, options.IntraOpThreads, reduceInGraph: _calibrator.Input == CalibrationInput.Extremes,
                maxOutputBytes: options.MaxBatchOutputBytes, followers);
        }
        catch (Exception e) when (ModelRunException.IsRuntimeFailure(e))
        {
            throw new ModelRunException($"ONNX Runtime cannot load '{model.Name}' for calibration: {e.Message}", e);
        }
        foreach (var f in _session.Followers)
            if (!_calibrator.Follow(f)) throw new InvalidOperationException($"'{f.Tensor}' cannot follow '{f.Source}'.");
        SharedHistograms = _session.Followers.Count;
        _feed = new SampleFeed(Binder, options, _session, _calibrator, model.Name, cancellationToken, Report);
        _model = model;
        _cancellation = cancellationToken;
        var matMulInputs = options.MeasureChannelRanges ? Quantization.Smoothing.ActivationSmoothing.Candidates(model) : new Dictionary<string, int>();
        // Its own float pass over the same items: the main run may reduce in the graph and never see the values.
        // A sample the main run skipped fails here too and was reported there already, so it is skipped quietly.
        try
        {
            if (matMulInputs.Count > 0)
                _channels = new Quantization.Smoothing.ChannelRangeCollector(model, matMulInputs,
                    options with { OnSampleError = _ => SampleErrorAction.Continue }, cancellationToken);
        }
        catch
        {
            _session.Dispose();
            throw;
        }
    }

    /// <summary>MatMul inputs whose per-channel extremes this run also keeps (<see cref="CalibrationOptions.MeasureChannelRanges"/>).</summary>
    public int ChannelRangeTensors => _channels?.Tensors ?? 0;

    /// <summary>The settings in effect: those asked for, with fewer bins when <see cref="HistogramPlan"/> reduced them.</summary>
    public CalibrationSettings Settings { get; }

    /// <summary>The histograms' planned memory, and whether the budget reduced the bins.</summary>
    public HistogramMemoryPlan HistogramPlan { get; }

    /// <summary>The tensors chosen for calibration and those left out, with reasons.</summary>
    public TensorSelection Selection { get; }

    internal InputBinder Binder { get; }

    /// <summary>Tensors whose histograms are taken from another tensor's values (a clamp or a move of them)
    /// rather than counted: <see cref="CalibrationOptions.ShareClampedHistograms"/>.</summary>
    public int SharedHistograms { get; }

    /// <summary>Total samples when the caller knows it (for progress); null when unknown.</summary>
    public long? TotalSamples { get; set; }

    public long SamplesDone => _feed.SamplesDone;

    /// <summary>EQ and Auto: sample rows and bytes kept for the search or the output check (at most <see cref="CalibrationSettings.EffectiveSearchRows"/>
    /// rows, whatever the number of samples); 0 for the other methods.</summary>
    public long SearchRowsKept => _searchSamples?.Rows ?? 0;

    public long SearchBytesKept => _searchSamples?.Bytes ?? 0;
    public int Errors => _feed.Errors;

    /// <summary>Reads one item (a file, a folder, a named tensor, a dictionary of arrays, an array) and
    /// runs every full batch it completes. Returns false once a sample error asked to stop.</summary>
    public bool Add(object item)
    {
        if (_feed.Stopped) return false;
        _started = true;
        bool more = _feed.Add(item);
        _channels?.Add(item);
        return more;
    }

    /// <summary>Starts from a table measured earlier, with the same settings, on samples that come before
    /// this run's: they continue its statistics as one stream would, so the result is exactly the table of
    /// its samples and this run's together (histograms keep the table's grid and widen it as needed).
    /// Call before the first sample; several tables are taken in order.</summary>
    public void ContinueFrom(CalibrationTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (_started) throw new InvalidOperationException("Tables to continue from must come before the first sample.");
        if (Settings.Method == CalibrationMethod.EQ) Calibrator.Create(Settings); // refuses, with the reason
        if (table.Settings != Settings)
            throw new ArgumentException($"Tables calibrated with different settings cannot be merged: {table.Settings} vs {Settings}.", nameof(table));
        _calibrator.Merge(CalibrationTable.ToCalibrator(table));
        _continued.Add(table);
    }

    /// <summary>Runs the last partial batch and computes the ranges.</summary>
    public CalibrationTable Complete()
    {
        _feed.Flush();
        if (SamplesDone == 0)
            throw new InvalidOperationException(Errors > 0 ? $"None of the samples could be used ({Errors} failed)." : "No samples were given.");
        var all = _calibrator.ComputeRanges();
        // The statistics are in: the calibration sessions' memory (their arenas sized by the batches) goes before EQ's
        // search or Auto's check open sessions of their own (the lists of tensors stay readable).
        var channelRanges = CompleteChannelRanges();
        if (_searchSamples != null)
        {
            _session.Dispose();
            _channels?.Dispose();
            var quantization = _options.SearchQuantization ?? Targets.TargetProfile.Resolve(Targets.QuantTarget.Host).StaticDefaults();
            // Auto's ranges (EQ over Auto starts from them) are those its output check keeps.
            if (Settings.Method == CalibrationMethod.Auto || Settings.EffectiveSearchBase == CalibrationMethod.Auto)
                all = AutoModelCheck.Run(_model, all.Where(r => r.ElementCount > 0).ToList(), _searchSamples.Batches,
                    quantization, _options.Registry, _options.IntraOpThreads, _options.BatchSize, _cancellation)
                    .Concat(all.Where(r => r.ElementCount == 0)).ToList();
            if (Settings.Method == CalibrationMethod.EQ)
                all = EasyQuantSearch.Run(_model, all.Where(r => r.ElementCount > 0).ToList(), _searchSamples.Batches,
                    quantization, _options.Registry, _options.IntraOpThreads, _cancellation)
                    .Concat(all.Where(r => r.ElementCount == 0)).ToList();
        }
        // A tensor that produced only NaN or infinity (NaN weights upstream) has no range: its [0, 0]
        // would be silently used. It is skipped, with the reason.
        var poisoned = all.Where(r => r.ElementCount == 0 && r.NonFiniteCount > 0).ToList();
        var ranges = all.Except(poisoned).ToList();
        // Tensors selected but never seen (e.g. in a branch that did not run) are reported, not invented.
        var seen = ranges.Select(r => r.Tensor).ToHashSet(StringComparer.Ordinal);
        var skipped = CalibrationTable.StillSkipped(_session.Skipped
            .Concat(poisoned.Select(r => new SkippedTensor(r.Tensor, $"only NaN or infinite values were produced ({r.NonFiniteCount})")))
            .Concat(_session.Tensors.Where(t => !seen.Contains(t)).Select(t => new SkippedTensor(t, "no values were produced")))
            .Concat(_continued.SelectMany(t => t.Skipped)), ranges);
        return new CalibrationTable(Settings, ranges, skipped)
        {
            ChannelRanges = channelRanges,
            SampleCount = SamplesDone + _continued.Sum(t => t.SampleCount), ModelName = _model.Name, Model = _model,
            ErrorCount = Errors + _continued.Sum(t => t.ErrorCount),
        };
    }

    public void Dispose()
    {
        _session.Dispose();
        _channels?.Dispose();
    }

    // This run's channel ranges, continuing those of the tables it continues (all of them must have measured them).
    private IReadOnlyDictionary<string, Quantization.Smoothing.ChannelRange> CompleteChannelRanges()
    {
        IReadOnlyDictionary<string, Quantization.Smoothing.ChannelRange> ranges;
        try { ranges = _channels?.Complete() ?? new Dictionary<string, Quantization.Smoothing.ChannelRange>(StringComparer.Ordinal); }
        catch (InvalidOperationException) { return new Dictionary<string, Quantization.Smoothing.ChannelRange>(StringComparer.Ordinal); } // no sample passed there
        if (ranges.Count == 0) return ranges;
        foreach (var t in _continued) ranges = CalibrationTable.MergeChannelRanges(ranges, t.ChannelRanges);
        return ranges;
    }

    private void Report(SampleBatch b)
    {
        _batches++;
        _searchSamples?.Add(b);
        _progress?.Report(new CalibrationProgress(SamplesDone, TotalSamples, _batches, Errors, _clock.Elapsed, b.Sources[^1]));
    }
}
