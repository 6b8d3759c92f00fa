using EvoQuant.Targets;
using System.Diagnostics;
using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Evaluation;

/// <summary>Times a reference (float) and a candidate (quantized) model with ONNX Runtime on this machine:
/// latency at one row and throughput at a larger batch, on the first rows of the evaluation data.</summary>
/// <remarks>
/// Both sessions are built with the same <see cref="SessionOptions"/> (all graph optimizations, as a user
/// runs a model, so Q/DQ groups become integer kernels; the stated intra-op thread count; one inter-op
/// thread). Each series warms both models up, then runs them in pairs, alternating which one goes first
/// (A B, B A, ...), so drift of the machine (other processes, clocks) falls on both alike. ORT's workers
/// spin between the parallel parts of a run but stop at its end (<c>session.force_spinning_stop</c>):
/// otherwise one session's idle workers would take the cores of the other's run. Each run is timed with
/// <see cref="Stopwatch"/> around <c>InferenceSession.Run</c> (inputs bound once, outputs allocated by
/// ORT); a series stops after <see cref="SpeedOptions.MaxPairs"/> pairs, or once
/// <see cref="SpeedOptions.TimeBudget"/> is spent and <see cref="SpeedOptions.MinPairs"/> are done.
/// </remarks>
public static class SpeedComparer
{
    /// <summary>Times both models and returns the medians, spreads and speedups.</summary>
    /// <param name="reference">The float model (loaded from its file when it has one, else from memory).</param>
    /// <param name="candidate">The quantized model (same inputs).</param>
    /// <param name="items">Samples, as <see cref="SampleSource"/> reads them; only the first
    /// <see cref="SpeedOptions.BatchSize"/> rows are read. Samples that do not fit are skipped.</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="cancellationToken">Stops between runs.</param>
    /// <exception cref="ArgumentException">No sample fits the reference's inputs; invalid options.</exception>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime cannot load or run a model.</exception>
    public static SpeedReport Measure(OnnxModel reference, OnnxModel candidate, IEnumerable<object> items,
        SpeedOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(items);
        options ??= new SpeedOptions();
        options.Validate();
        var clock = Stopwatch.StartNew();
        var cpu = HostCpu.Current;
        int threads = options.Threads > 0 ? options.Threads : cpu.PhysicalCores;
        var notes = new List<string>();

        var (batch, canBatch) = FirstBatch(reference, items, options.BatchSize);
        if (!canBatch)
            notes.Add($"The model's batch axis is fixed (or it has none): both figures are for its {batch.Rows}-row input.");
        else if (batch.Rows < options.BatchSize)
            notes.Add($"The data has {batch.Rows} row(s): throughput is timed at batch {batch.Rows}, not {options.BatchSize}.");

        using var sessionOptions = SessionOptionsFor(threads);
        using var refSession = Open(reference, sessionOptions);
        using var candSession = Open(candidate, sessionOptions);

        SpeedMeasurement? latency = null;
        if (canBatch && batch.Rows > 1)
        {
            var one = batch.Inputs.ToDictionary(kv => kv.Key, kv => kv.Value.SliceRows(0, 1), StringComparer.Ordinal);
            latency = Series(refSession, candSession, one, 1, options, cancellationToken);
        }
        var throughput = Series(refSession, candSession, batch.Inputs, (int)batch.Rows, options, cancellationToken);
        return new SpeedReport
        {
            Cpu = cpu,
            Threads = threads,
            Latency = latency ?? throughput,
            Throughput = throughput,
            Notes = notes,
            Elapsed = clock.Elapsed,
        };
    }

    /// <summary>The options of every timed session: all graph optimizations, <paramref name="threads"/> intra-op
    /// threads (0: the physical cores), one inter-op thread, workers that stop spinning at the end of each run.</summary>
    internal static SessionOptions SessionOptionsFor(int threads)
    {
        var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = threads > 0 ? threads : HostCpu.Current.PhysicalCores,
            InterOpNumThreads = 1,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        sessionOptions.AddSessionConfigEntry("session.force_spinning_stop", "1");
        return sessionOptions;
    }

    /// <summary>Warm-up, then interleaved timed pairs at one batch size.</summary>
    private static SpeedMeasurement Series(InferenceSession reference, InferenceSession candidate,
        IReadOnlyDictionary<string, NamedTensor> inputs, int rows, SpeedOptions options, CancellationToken ct)
    {
        var names = inputs.Keys.ToList();
        var values = new List<OrtValue>(names.Count);
        try
        {
            foreach (var n in names) values.Add(inputs[n].ToOrtValue());
            using var runOptions = new RunOptions();
            var refOutputs = reference.OutputNames.ToList();
            var candOutputs = candidate.OutputNames.ToList();
            double Time(InferenceSession s, List<string> outputs)
            {
                long start = Stopwatch.GetTimestamp();
                var results = s.Run(runOptions, names, values, outputs);
                double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                results.Dispose();
                return ms;
            }

            for (int i = 0; i < options.WarmupRuns; i++)
            {
                ct.ThrowIfCancellationRequested();
                Time(reference, refOutputs);
                Time(candidate, candOutputs);
            }
            var refTimes = new List<double>(Math.Min(options.MaxPairs, 1024));
            var candTimes = new List<double>(refTimes.Capacity);
            var clock = Stopwatch.StartNew();
            for (int pair = 0; pair < options.MaxPairs && (pair < options.MinPairs || clock.Elapsed < options.TimeBudget); pair++)
            {
                ct.ThrowIfCancellationRequested();
                if (pair % 2 == 0)
                {
                    refTimes.Add(Time(reference, refOutputs));
                    candTimes.Add(Time(candidate, candOutputs));
                }
                else
                {
                    candTimes.Add(Time(candidate, candOutputs));
                    refTimes.Add(Time(reference, refOutputs));
                }
            }
            return new SpeedMeasurement
            {
                BatchSize = rows,
                Pairs = refTimes.Count,
                Reference = TimingStats.From(refTimes),
                Candidate = TimingStats.From(candTimes),
            };
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    /// <summary>The model's file when it is the one loaded (same size), else a temporary one.</summary>
    private static InferenceSession Open(OnnxModel model, SessionOptions options)
    {
        using var file = RuntimeModelFile.For(model);
        return file.Open(options);
    }

    /// <summary>The first <paramref name="batchSize"/> rows bound to the model's inputs (fewer when the data
    /// has fewer); the first sample as it is when the batch axis is not dynamic.</summary>
    internal static (SampleBatch Batch, bool CanBatch) FirstBatch(OnnxModel model, IEnumerable<object> items, int batchSize)
    {
        var binder = new InputBinder(model);
        bool canBatch = binder.CanBatch;
        var source = new SampleSource(items, new SampleSourceOptions { SplitRows = canBatch && binder.Inputs.Count == 1 ? batchSize : null });
        var batcher = new SampleBatcher(canBatch, batchSize);
        foreach (var item in source.Read())
        {
            if (item.Error != null) continue;
            BoundSample bound;
            try { bound = binder.Bind(item.Sample!); }
            catch (SampleMismatchException) { continue; }
            foreach (var b in batcher.Add(bound)) return (b, canBatch);
        }
        foreach (var b in batcher.Flush()) return (b, canBatch);
        throw new ArgumentException("No sample fits the model's inputs, so there is nothing to time.", nameof(items));
    }
}
