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
    private readonly InferenceSession _session = null!;
    private readonly RunOptions _runOptions = new();
    private readonly List<string> _fetch = new();
    private readonly List<string> _tensors = new();
    private readonly List<string> _fromInputs = new();
    private readonly List<SkippedTensor> _skipped;
    private readonly HashSet<string> _inputNames;

    /// <summary>The tensors this session calibrates (graph inputs first, then fetched outputs).</summary>
    public IReadOnlyList<string> Tensors => _fromInputs.Concat(_tensors).ToList();

    /// <summary>Tensors left out: by the selector, and those ONNX Runtime reports as non-float.</summary>
    public IReadOnlyList<SkippedTensor> Skipped => _skipped;

    /// <summary>The augmented model the session runs.</summary>
    public OnnxModel AugmentedModel { get; } = null!;

    /// <summary>Whether ONNX Runtime reduces each tensor to its min, max and size inside the graph
    /// (MinMax only): activations are then freed during the run instead of all being returned.</summary>
    public bool ReducesInGraph { get; }

    public CalibrationSession(OnnxModel model, TensorSelection selection, int intraOpThreads = 0, bool reduceInGraph = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(selection);
        _skipped = selection.Skipped.ToList();
        _inputNames = model.Graph.RuntimeInputs.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var fetched = selection.Tensors.Where(t => !_inputNames.Contains(t)).ToList();
        _fromInputs.AddRange(selection.Tensors.Where(_inputNames.Contains));

        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        if (intraOpThreads > 0) options.IntraOpNumThreads = intraOpThreads;
        if (reduceInGraph)
        {
            // Falls back to fetching whole tensors when the runtime lacks a reduction for some type.
            var reduced = AugmentedModelBuilder.BuildWithReductions(model, fetched);
            try
            {
                _session = new InferenceSession(reduced.ToBytes(), options);
                AugmentedModel = reduced;
                ReducesInGraph = true;
            }
            catch (OnnxRuntimeException) { }
        }
        if (_session == null)
        {
            AugmentedModel = AugmentedModelBuilder.Build(model, fetched, selection.KnownTypes);
            try { _session = new InferenceSession(AugmentedModel.ToBytes(), options); }
            catch (OnnxRuntimeException e)
            {
                throw new OnnxModelException(ModelErrorKind.Invalid, $"ONNX Runtime cannot load the model for calibration: {e.Message}", model.Path, e);
            }
        }

        var outputs = _session.OutputMetadata;
        foreach (string t in fetched)
        {
            string probe = ReducesInGraph ? t + AugmentedModelBuilder.MinSuffix : t;
            if (!outputs.TryGetValue(probe, out var meta)) { _skipped.Add(new SkippedTensor(t, "ONNX Runtime does not expose it as an output")); continue; }
            if (!meta.IsTensor || meta.ElementDataType is not (TensorElementType.Float or TensorElementType.Float16))
            {
                _skipped.Add(new SkippedTensor(t, $"ONNX Runtime reports element type {meta.ElementDataType}, not float"));
                continue;
            }
            _tensors.Add(t);
            if (ReducesInGraph)
            {
                _fetch.Add(t + AugmentedModelBuilder.MinSuffix);
                _fetch.Add(t + AugmentedModelBuilder.MaxSuffix);
                _fetch.Add(t + AugmentedModelBuilder.SizeSuffix);
            }
            else _fetch.Add(t);
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
                if (ReducesInGraph) UpdateReduced(calibrator, results);
                else
                {
                    int k = 0;
                    foreach (var r in results) Update(calibrator, _fetch[k++], r);
                }
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

    private void UpdateReduced(ICalibrator calibrator, IReadOnlyList<OrtValue> results)
    {
        if (calibrator is not MinMaxCalibrator minMax)
            throw new InvalidOperationException("A session that reduces in the graph feeds MinMax calibrators only.");
        for (int k = 0; k < _tensors.Count; k++)
        {
            long size = results[3 * k + 2].GetTensorDataAsSpan<long>()[0];
            if (size == 0) continue;
            minMax.UpdateExtremes(_tensors[k], Scalar(results[3 * k]), Scalar(results[3 * k + 1]), size);
        }
    }

    private static float Scalar(OrtValue v) =>
        v.GetTensorTypeAndShape().ElementDataType == TensorElementType.Float ? v.GetTensorDataAsSpan<float>()[0] : (float)(Half)MemoryMarshal.Cast<Float16, Half>(v.GetTensorDataAsSpan<Float16>())[0];

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
