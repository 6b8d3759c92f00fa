using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using EvoQuant.Data;
using EvoQuant.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EvoQuant.Calibration;

/// <summary>One ONNX Runtime session over the augmented model. Each <see cref="Run"/> feeds one batch,
/// hands every calibrated tensor's values to a calibrator, and disposes the outputs before returning,
/// so memory does not grow with the number of batches. Graph inputs are calibrated from the fed data.
/// Optimizations are off (ORT_DISABLE_ALL) so that tensor names stay those of the model.</summary>
public sealed class CalibrationSession : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly List<string> _fetch = new();
    private readonly List<string> _fromInputs = new();
    private readonly List<SkippedTensor> _skipped;
    private readonly HashSet<string> _inputNames;

    /// <summary>The tensors this session calibrates (graph inputs first, then fetched outputs).</summary>
    public IReadOnlyList<string> Tensors => _fromInputs.Concat(_fetch).ToList();

    /// <summary>Tensors left out: by the selector, and those ONNX Runtime reports as non-float.</summary>
    public IReadOnlyList<SkippedTensor> Skipped => _skipped;

    /// <summary>The augmented model the session runs.</summary>
    public OnnxModel AugmentedModel { get; }

    public CalibrationSession(OnnxModel model, TensorSelection selection, int intraOpThreads = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(selection);
        _skipped = selection.Skipped.ToList();
        _inputNames = model.Graph.RuntimeInputs.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        AugmentedModel = AugmentedModelBuilder.Build(model, selection.Tensors.Where(t => !_inputNames.Contains(t)), selection.KnownTypes);

        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        if (intraOpThreads > 0) options.IntraOpNumThreads = intraOpThreads;
        try { _session = new InferenceSession(AugmentedModel.ToBytes(), options); }
        catch (OnnxRuntimeException e)
        {
            throw new OnnxModelException(ModelErrorKind.Invalid, $"ONNX Runtime cannot load the model for calibration: {e.Message}", model.Path, e);
        }

        var outputs = _session.OutputMetadata;
        foreach (string t in selection.Tensors)
        {
            if (_inputNames.Contains(t))
            {
                _fromInputs.Add(t);
                continue;
            }
            if (!outputs.TryGetValue(t, out var meta)) { _skipped.Add(new SkippedTensor(t, "ONNX Runtime does not expose it as an output")); continue; }
            if (!meta.IsTensor || meta.ElementDataType is not (TensorElementType.Float or TensorElementType.Float16))
            {
                _skipped.Add(new SkippedTensor(t, $"ONNX Runtime reports element type {meta.ElementDataType}, not float"));
                continue;
            }
            _fetch.Add(t);
        }
    }

    /// <summary>Runs one batch and updates <paramref name="calibrator"/>. Cancelling stops the run in progress.</summary>
    public void Run(IReadOnlyDictionary<string, NamedTensor> inputs, ICalibrator calibrator, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(calibrator);
        cancellationToken.ThrowIfCancellationRequested();

        foreach (string t in _fromInputs)
            if (inputs.TryGetValue(t, out var x)) UpdateFrom(calibrator, t, x);

        var names = inputs.Keys.ToList();
        var values = new List<OrtValue>(names.Count);
        try
        {
            foreach (var n in names) values.Add(inputs[n].ToOrtValue());
            if (_fetch.Count == 0) return;
            _runOptions.Terminate = false;
            IDisposableReadOnlyCollection<OrtValue> results;
            using (cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, _runOptions))
            {
                try { results = _session.Run(_runOptions, names, values, _fetch); }
                catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
                {
                    throw new OperationCanceledException(cancellationToken);
                }
            }
            using (results)
            {
                int k = 0;
                foreach (var r in results) Update(calibrator, _fetch[k++], r);
            }
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    private static void Update(ICalibrator calibrator, string tensor, OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        if (info.ElementDataType == TensorElementType.Float)
        {
            calibrator.Update(tensor, value.GetTensorDataAsSpan<float>());
            return;
        }
        var half = MemoryMarshal.Cast<Float16, Half>(value.GetTensorDataAsSpan<Float16>());
        var buf = ArrayPool<float>.Shared.Rent(half.Length);
        try
        {
            TensorPrimitives.ConvertToSingle(half, buf.AsSpan(0, half.Length));
            calibrator.Update(tensor, buf.AsSpan(0, half.Length));
        }
        finally { ArrayPool<float>.Shared.Return(buf); }
    }

    private static void UpdateFrom(ICalibrator calibrator, string tensor, NamedTensor x)
    {
        if (x.Data is float[] f) calibrator.Update(tensor, f);
        else if (TypedArrays.IsFloat(x.ElementType)) calibrator.Update(tensor, x.ToFloatArray());
    }

    public void Dispose()
    {
        _session.Dispose();
        _runOptions.Dispose();
    }
}
