using EvoQuant.Data;

namespace EvoQuant.Calibration;

/// <summary>
/// Items (files, folders, arrays, dictionaries, samples) read one at a time, bound to the model's inputs and
/// gathered into batches that run through a <see cref="CalibrationSession"/> into an <see cref="ICalibrator"/> as
/// soon as they are full: the streaming shared by calibration (<see cref="CalibrationRun"/>) and weight-only
/// statistics. Bad samples follow <see cref="CalibrationOptions.OnSampleError"/>: without a handler the first one
/// is thrown. ONNX Runtime's failures on a batch become a <see cref="ModelRunException"/> naming the batch.
/// </summary>
internal sealed class SampleFeed
{
    private readonly InputBinder _binder;
    private readonly CalibrationOptions _options;
    private readonly CalibrationSession _session;
    private readonly ICalibrator _calibrator;
    private readonly string _modelName;
    private readonly Action<SampleBatch>? _afterBatch;
    private readonly CancellationToken _cancellation;
    private readonly SampleSourceOptions _sourceOptions;
    private readonly SampleBatcher _batcher;

    // afterBatch: called after each batch has run (progress).
    public SampleFeed(InputBinder binder, CalibrationOptions options, CalibrationSession session, ICalibrator calibrator, string modelName,
        CancellationToken cancellation, Action<SampleBatch>? afterBatch = null)
    {
        _binder = binder;
        _options = options;
        _session = session;
        _calibrator = calibrator;
        _modelName = modelName;
        _afterBatch = afterBatch;
        _cancellation = cancellation;
        bool canBatch = binder.CanBatch;
        // A single batchable input is split into rows as it is read, so a large file never sits whole in a batch.
        _sourceOptions = new SampleSourceOptions { SplitRows = canBatch && binder.Inputs.Count == 1 ? options.BatchSize : null };
        _batcher = new SampleBatcher(canBatch, options.BatchSize);
    }

    /// <summary>Sample rows that have run.</summary>
    public long SamplesDone { get; private set; }

    /// <summary>Samples that failed to read or bind.</summary>
    public int Errors { get; private set; }

    /// <summary>A sample error asked to stop: nothing more is read or run.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Reads one item and runs every full batch it completes; false once a sample error asked to stop.</summary>
    public bool Add(object item)
    {
        if (Stopped) return false;
        foreach (var read in new SampleSource(new[] { item }, _sourceOptions).Read())
        {
            _cancellation.ThrowIfCancellationRequested();
            if (read.Error != null)
            {
                if (!Fail(read.Source, read.Error)) return false;
                continue;
            }
            BoundSample bound;
            try { bound = _binder.Bind(read.Sample!); }
            catch (SampleMismatchException e)
            {
                if (!Fail(read.Source, e)) return false;
                continue;
            }
            foreach (var b in _batcher.Add(bound)) Run(b);
        }
        return true;
    }

    /// <summary>Runs the last partial batch, unless a sample error stopped the feed.</summary>
    public void Flush()
    {
        if (!Stopped) foreach (var b in _batcher.Flush()) Run(b);
    }

    private void Run(SampleBatch b)
    {
        try { _session.Run(b.Inputs, _calibrator, _cancellation); }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e)
        {
            throw new ModelRunException($"ONNX Runtime failed to run '{_modelName}' on the batch ending with '{b.Sources[^1]}': {e.Message}", e);
        }
        SamplesDone += b.Rows;
        _afterBatch?.Invoke(b);
    }

    // True to go on.
    private bool Fail(string where, Exception e)
    {
        Errors++;
        if (_options.OnSampleError == null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
        if (_options.OnSampleError(new SampleError(where, e)) == SampleErrorAction.Continue) return true;
        Stopped = true;
        return false;
    }
}
