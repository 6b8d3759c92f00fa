using EvoQuant.Onnx;

namespace EvoQuant.Calibration;

/// <summary>The float model run on calibration samples, fetching the values of chosen tensors into a
/// calibrator that keeps its own statistics (GPTQ's Grams, smoothing's channel ranges): the input binder,
/// the <see cref="CalibrationSession"/> (output budget, sub-batches) and the <see cref="SampleFeed"/> that
/// calibration uses, so memory is one batch plus the calibrator's state, whatever the number of samples.</summary>
internal sealed class TensorStatisticsRun : IDisposable
{
    private readonly CalibrationSession _session;
    private readonly SampleFeed _feed;

    /// <param name="purpose">What the values are for, in ONNX Runtime's load error ("to collect input statistics").</param>
    public TensorStatisticsRun(OnnxModel model, IReadOnlyCollection<string> tensors, ICalibrator calibrator, CalibrationOptions options, string purpose, CancellationToken cancellationToken)
    {
        if (options.BatchSize < 1) throw new ArgumentException($"BatchSize must be at least 1; got {options.BatchSize}.");
        if (options.MaxBatchOutputBytes < 1) throw new ArgumentException($"MaxBatchOutputBytes must be positive; got {options.MaxBatchOutputBytes}.");
        InputBinder binder;
        try { binder = new InputBinder(model); }
        catch (NotSupportedException e) { throw new ModelRunException($"'{model.Name}' cannot be run on samples: {e.Message}", e); }
        var selection = new TensorSelection(tensors.ToList(), Array.Empty<SkippedTensor>()) { KnownTypes = ElementTypeInference.Infer(model.Graph) };
        try { _session = new CalibrationSession(model, selection, options.IntraOpThreads, reduceInGraph: false, maxOutputBytes: options.MaxBatchOutputBytes); }
        catch (Exception e) when (ModelRunException.IsRuntimeFailure(e))
        {
            throw new ModelRunException($"ONNX Runtime cannot load '{model.Name}' {purpose}: {e.Message}", e);
        }
        _feed = new SampleFeed(binder, options, _session, calibrator, model.Name, cancellationToken);
    }

    /// <summary>Tensors ONNX Runtime could not expose (not float, not an output).</summary>
    public IReadOnlyList<SkippedTensor> Skipped => _session.Skipped;

    public long SamplesDone => _feed.SamplesDone;
    public int Errors => _feed.Errors;

    /// <summary>Reads one item and runs every full batch it completes; false once a sample error asked to stop.</summary>
    public bool Add(object item) => _feed.Add(item);

    /// <summary>Runs the last partial batch; throws when no sample was used.</summary>
    public void Complete()
    {
        _feed.Flush();
        if (SamplesDone == 0)
            throw new InvalidOperationException(Errors > 0 ? $"None of the samples could be used ({Errors} failed)." : "No samples were given.");
    }

    public void Dispose() => _session.Dispose();
}
