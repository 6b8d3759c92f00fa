using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using EvoQuant.Data;
using EvoQuant.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EvoQuant.Calibration;

/// <summary>ONNX Runtime over the augmented model. Each <see cref="Run"/> feeds one batch, hands every
/// calibrated tensor's values to a calibrator, and disposes the outputs before returning, so memory does
/// not grow with the number of batches. Graph inputs are calibrated from the fed data. Optimizations are
/// off (ORT_DISABLE_ALL) so that tensor names stay those of the model. When the fetched tensors of one
/// batch would exceed a byte budget, they are split into groups, each with its own augmented model, and
/// the batch runs once per group (ONNX Runtime keeps all graph outputs of a run alive, fetched or not).</summary>
public sealed class CalibrationSession : IDisposable
{
    private sealed record Group(InferenceSession Session, List<string> Fetch);

    private InferenceSession? _session;
    private readonly RunOptions _runOptions = new();
    private readonly List<string> _fetch = new();
    private readonly List<string> _tensors = new();
    private readonly List<string> _fromInputs = new();
    private readonly List<SkippedTensor> _skipped;
    private readonly HashSet<string> _inputNames;
    private readonly OnnxModel _model;
    private readonly int _intraOpThreads;
    private readonly long _maxOutputBytes;
    private readonly Dictionary<string, int> _elementBytes = new(StringComparer.Ordinal);
    // Largest bytes one batch produced per fetched tensor: what the groups are planned from.
    private readonly Dictionary<string, long> _bytes = new(StringComparer.Ordinal);
    private List<Group>? _groups;
    private bool _shrinks;

    /// <summary>The tensors this session calibrates (graph inputs first, then fetched outputs).</summary>
    public IReadOnlyList<string> Tensors => _fromInputs.Concat(_tensors).ToList();

    /// <summary>Tensors left out: by the selector, and those ONNX Runtime reports as non-float.</summary>
    public IReadOnlyList<SkippedTensor> Skipped => _skipped;

    /// <summary>The augmented model the session runs (with groups: the one that fetches every tensor).</summary>
    public OnnxModel AugmentedModel { get; } = null!;

    /// <summary>Whether ONNX Runtime reduces each tensor to its min, max and size inside the graph
    /// (MinMax only): activations are then freed during the run instead of all being returned.</summary>
    public bool ReducesInGraph { get; }

    /// <summary>How many ONNX Runtime runs a batch takes (1 unless the budget split the tensors; 0 before the first batch).</summary>
    public int GroupCount => ReducesInGraph ? 1 : _groups?.Count ?? 0;

    /// <param name="maxOutputBytes">Budget for the tensors one run returns (fetching sessions only);
    /// long.MaxValue: never split.</param>
    public CalibrationSession(OnnxModel model, TensorSelection selection, int intraOpThreads = 0, bool reduceInGraph = false, long maxOutputBytes = long.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(selection);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxOutputBytes, 1);
        _model = model;
        _intraOpThreads = intraOpThreads;
        _maxOutputBytes = maxOutputBytes;
        _skipped = selection.Skipped.ToList();
        _inputNames = model.Graph.RuntimeInputs.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var fetched = selection.Tensors.Where(t => !_inputNames.Contains(t)).ToList();
        _fromInputs.AddRange(selection.Tensors.Where(_inputNames.Contains));

        if (reduceInGraph)
        {
            // Falls back to fetching whole tensors when the runtime lacks a reduction for some type.
            var reduced = AugmentedModelBuilder.BuildWithReductions(model, fetched);
            try
            {
                _session = CreateSession(reduced);
                AugmentedModel = reduced;
                ReducesInGraph = true;
            }
            catch (OnnxRuntimeException) { }
        }
        if (_session == null)
        {
            AugmentedModel = AugmentedModelBuilder.Build(model, fetched, selection.KnownTypes);
            try { _session = CreateSession(AugmentedModel); }
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
            _elementBytes[t] = meta.ElementDataType == TensorElementType.Float ? 4 : 2;
            if (ReducesInGraph)
            {
                _fetch.Add(t + AugmentedModelBuilder.MinSuffix);
                _fetch.Add(t + AugmentedModelBuilder.MaxSuffix);
                _fetch.Add(t + AugmentedModelBuilder.SizeSuffix);
            }
            else _fetch.Add(t);
        }
        if (!ReducesInGraph && maxOutputBytes == long.MaxValue) _groups = new List<Group> { new(_session, _fetch) };
    }

    // One CPU arena in the ORT environment, shared by the group sessions: per-session arenas would each
    // keep their own peak (N groups, N peaks; OCR recognizer 2.4 GiB), and without arenas the C allocator
    // kept as much (0.7 GiB after one reduced run). Allocating exactly what is requested lets the arena
    // shrink back at the end of every run.
    private static readonly Lazy<bool> SharedArena = new(() =>
    {
        try
        {
            using var info = new OrtMemoryInfo(OrtMemoryInfo.allocatorCPU, OrtAllocatorType.ArenaAllocator, 0, OrtMemType.Default);
            using var cfg = new OrtArenaCfg(0, 1, -1, -1); // no cap, kSameAsRequested, defaults
            OrtEnv.Instance().CreateAndRegisterAllocator(info, cfg);
            return true;
        }
        catch (OnnxRuntimeException) { return false; } // e.g. already registered by the host: use that one
    });

    private InferenceSession CreateSession(OnnxModel m, bool shared = false)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        if (_intraOpThreads > 0) options.IntraOpNumThreads = _intraOpThreads;
        if (shared)
        {
            _ = SharedArena.Value;
            options.AddSessionConfigEntry("session.use_env_allocators", "1");
        }
        // Between runs the calibrators work on the same cores: ORT's spinning workers would steal them.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return new InferenceSession(m.ToBytes(), options);
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
            if (ReducesInGraph)
            {
                using var results = Execute(_session!, names, values, _fetch, cancellationToken);
                UpdateReduced(calibrator, results);
                return;
            }
            _groups ??= PlanGroups(names, values, cancellationToken);
            foreach (var g in _groups)
            {
                using var results = Execute(g.Session, names, values, g.Fetch, cancellationToken);
                for (int k = 0; k < g.Fetch.Count; k++)
                {
                    long bytes = results[k].GetTensorTypeAndShape().ElementCount * _elementBytes[g.Fetch[k]];
                    if (bytes > _bytes.GetValueOrDefault(g.Fetch[k])) _bytes[g.Fetch[k]] = bytes;
                }
                UpdateAll(calibrator, g.Fetch, results);
            }
            // Later batches can be larger (dynamic dimensions): plan again before the next one.
            if (_maxOutputBytes != long.MaxValue && OutputGroups.Overflows(_groups.Select(g => g.Fetch), _bytes, _maxOutputBytes))
            {
                DisposeGroups();
                _groups = null;
            }
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    private IDisposableReadOnlyCollection<OrtValue> Execute(InferenceSession session, List<string> names, List<OrtValue> values, List<string> fetch, CancellationToken cancellationToken)
    {
        _runOptions.Terminate = false;
        using (cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, _runOptions))
        {
            try { return session.Run(_runOptions, names, values, fetch); }
            catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }
    }

    // Sizes come from a first run of the reduced model (ReduceMin/ReduceMax/Size in the graph), which
    // frees activations as it goes: learning them costs one batch of compute, not one batch of memory.
    private List<Group> PlanGroups(List<string> names, List<OrtValue> values, CancellationToken cancellationToken)
    {
        if (_bytes.Count == 0)
        {
            InferenceSession? probe = null;
            try { probe = CreateSession(AugmentedModelBuilder.BuildWithReductions(_model, _tensors)); }
            catch (OnnxRuntimeException) { } // no reduction kernel for some type: sizes stay unknown, one group
            if (probe != null)
            {
                using (probe)
                {
                    var sizeNames = _tensors.Select(t => t + AugmentedModelBuilder.SizeSuffix).ToList();
                    using var sizes = Execute(probe, names, values, sizeNames, cancellationToken);
                    for (int k = 0; k < _tensors.Count; k++)
                        _bytes[_tensors[k]] = sizes[k].GetTensorDataAsSpan<long>()[0] * _elementBytes[_tensors[k]];
                }
            }
        }
        var plan = OutputGroups.Plan(_tensors, _bytes, _maxOutputBytes);
        if (plan.Count > 1 && !_shrinks)
        {
            _runOptions.AddRunConfigEntry("memory.enable_memory_arena_shrinkage", "cpu:0");
            _shrinks = true;
        }
        if (plan.Count <= 1)
        {
            _session ??= CreateSession(AugmentedModel);
            return new List<Group> { new(_session, _fetch) };
        }
        // The all-tensor session is not needed any more: free its weights.
        _session?.Dispose();
        _session = null;
        return plan.Select(g => new Group(CreateSession(AugmentedModelBuilder.Build(_model, g, KnownTypes(g)), shared: true), g)).ToList();
    }

    private Dictionary<string, int> KnownTypes(IEnumerable<string> tensors) =>
        tensors.ToDictionary(t => t, t => _elementBytes[t] == 4 ? 1 : 10, StringComparer.Ordinal); // ONNX FLOAT / FLOAT16

    private void DisposeGroups()
    {
        if (_groups == null) return;
        foreach (var g in _groups)
            if (!ReferenceEquals(g.Session, _session)) g.Session.Dispose();
    }

    // Tensors are independent: update them on all cores when the calibrator allows concurrent updates.
    private static void UpdateAll(ICalibrator calibrator, List<string> fetch, IReadOnlyList<OrtValue> results)
    {
        if (results.Count > 1 && Environment.ProcessorCount > 1 && calibrator is HistogramCalibrator or MinMaxCalibrator)
            Parallel.For(0, results.Count, k => Update(calibrator, fetch[k], results[k]));
        else
            for (int k = 0; k < results.Count; k++) Update(calibrator, fetch[k], results[k]);
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
        DisposeGroups();
        _session?.Dispose();
        _runOptions.Dispose();
    }
}
