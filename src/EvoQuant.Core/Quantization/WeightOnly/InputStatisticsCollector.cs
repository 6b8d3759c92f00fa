using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Onnx;

namespace EvoQuant.Quantization.WeightOnly;

/// <summary>Streams calibration samples through ONNX Runtime and accumulates the <see cref="InputStatistics"/>
/// of the activations that weight-only MatMul/Gemm nodes multiply (one per distinct tensor: nodes that
/// share an input, like Q, K and V, share its statistics). Items are what Measure-Calibration takes (files,
/// folders, arrays, dictionaries, <see cref="Sample"/>s), read, bound, batched, run and dropped one at a
/// time, as <see cref="CalibrationRun"/> does, on the same <see cref="CalibrationSession"/>: memory is one
/// batch plus K² doubles per tensor, whatever the number of samples.</summary>
/// <remarks>A tensor's K is its consumer's weight's; its values of any rank are rows of K (the last axis).
/// Positions the model's attention_mask marks as padding are left out (<see cref="PaddingMask"/>).
/// Memory: 8·K² bytes per distinct input (384: 1.2 MB; 4096: 128 MiB; 11008: 0.9 GiB), held for the whole
/// run, plus one batch's fetched activations (bounded by <see cref="CalibrationOptions.MaxBatchOutputBytes"/>).
/// Work: K²/2 multiply-adds per row and tensor, in double.</remarks>
public sealed class InputStatisticsCollector : IDisposable
{
    private readonly Dictionary<string, InputStatistics> _statistics = new(StringComparer.Ordinal);
    private readonly InputStatisticsCalibrator _calibrator;
    private readonly TensorStatisticsRun _run;

    /// <summary>Collects for the MatMul/Gemm inputs weight-only quantization with <paramref name="quantization"/>
    /// will ask statistics for (<see cref="WeightOnlyPlanner.InputsNeedingStatistics"/>).</summary>
    /// <param name="model">The float model.</param>
    /// <param name="quantization">The weight-only options (node selection, embeddings ...) the statistics are for.</param>
    /// <param name="options">Batching, threads, output budget and sample errors are read; the calibration
    /// method, its parameters and its node patterns are not.</param>
    /// <param name="cancellationToken">Stops between samples and batches.</param>
    public InputStatisticsCollector(OnnxModel model, QuantizationOptions quantization, CalibrationOptions? options = null, CancellationToken cancellationToken = default)
        : this(model, WeightOnlyPlanner.InputsNeedingStatistics(model, quantization), options, cancellationToken) { }

    /// <summary>Collects for the given inputs (one statistics per distinct activation tensor).</summary>
    public InputStatisticsCollector(OnnxModel model, IReadOnlyList<WeightOnlyInput> inputs, CalibrationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputs);
        Inputs = inputs;
        if (Inputs.Count == 0) throw new InvalidOperationException($"'{model.Name}' has no MatMul or Gemm with a constant 2-D float weight to collect input statistics for.");
        foreach (var input in Inputs)
        {
            if (!_statistics.TryGetValue(input.Activation, out var s)) _statistics[input.Activation] = new InputStatistics(input.Channels);
            else if (s.Channels != input.Channels)
                throw new InvalidOperationException($"'{input.Activation}' feeds weights of {s.Channels} and {input.Channels} input rows ({input.Node}).");
        }
        var mask = PaddingMask.Find(model);
        PaddingMaskInput = mask?.Input;
        _calibrator = new InputStatisticsCalibrator(_statistics, mask);
        _run = new TensorStatisticsRun(model, _statistics.Keys, _calibrator, options ?? new CalibrationOptions(), "to collect input statistics", cancellationToken);
    }

    /// <summary>The weight-only MatMul/Gemm inputs whose statistics are collected.</summary>
    public IReadOnlyList<WeightOnlyInput> Inputs { get; }

    /// <summary>Tensors ONNX Runtime could not expose (not float, not an output): their nodes get no statistics.</summary>
    public IReadOnlyList<SkippedTensor> Skipped => _run.Skipped;

    /// <summary>The input whose zeros mark padded positions, left out of the statistics (attention_mask when
    /// the model has it); null: every position counts.</summary>
    public string? PaddingMaskInput { get; }

    /// <summary>Positions left out as padding so far.</summary>
    public long PaddedPositions => _calibrator.PaddedPositions;

    public long SamplesDone => _run.SamplesDone;
    public int Errors => _run.Errors;

    /// <summary>Reads one item and runs every full batch it completes; false once a sample error asked to stop.</summary>
    public bool Add(object item) => _run.Add(item);

    /// <summary>Runs the last partial batch and returns the statistics by activation tensor name (the key
    /// <see cref="WeightOnlyOptions"/> reads): those of tensors that produced no rows are left out.</summary>
    public IReadOnlyDictionary<string, InputStatistics> Complete()
    {
        _run.Complete();
        return _statistics.Where(kv => kv.Value.RowCount > 0).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
    }

    /// <summary>Collects over all items in one call, for the inputs weight-only quantization with <paramref name="quantization"/> needs.</summary>
    public static IReadOnlyDictionary<string, InputStatistics> Collect(OnnxModel model, QuantizationOptions quantization, IEnumerable<object> items, CalibrationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        using var collector = new InputStatisticsCollector(model, quantization, options, cancellationToken);
        foreach (var item in items)
            if (!collector.Add(item)) break;
        return collector.Complete();
    }

    public void Dispose() => _run.Dispose();
}
