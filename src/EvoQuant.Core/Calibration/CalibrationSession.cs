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
/// batch would exceed a byte budget (ONNX Runtime keeps all graph outputs of a run alive, fetched or not),
/// the batch is cut into sub-batches of rows that fit, each run once (histogram calibrators on a dynamic
/// batch axis, see <see cref="RunPlan"/>); otherwise, or when one row alone is over the budget, the
/// tensors are split into groups, each with its own augmented model, and every batch (or row) runs once
/// per group.</summary>
public sealed class CalibrationSession : IDisposable
{
    private sealed record Group(InferenceSession Session, List<string> Fetch);

    private InferenceSession? _session;
    private readonly RunOptions _runOptions = new();
    private readonly List<string> _fetch = new();
    private readonly List<string> _tensors = new();
    // In-graph MinMax: tensors whose extremes follow from a reduced one's (after Relu, Clip, Reshape ...).
    private readonly List<(string Tensor, DerivedExtremes.Derivation How)> _derived = new();
    private readonly List<string> _fromInputs = new();
    private readonly List<ClampFollowers.Follower> _followers = new();
    private readonly List<SkippedTensor> _skipped;
    private readonly HashSet<string> _inputNames;
    private readonly OnnxModel _model;
    private readonly int _intraOpThreads;
    private readonly long _maxOutputBytes;
    private readonly Dictionary<string, int> _elementBytes = new(StringComparer.Ordinal);
    // Largest bytes per row (per batch when batches are not cut) of each fetched tensor: what the plan is made from.
    private readonly Dictionary<string, long> _bytes = new(StringComparer.Ordinal);
    private readonly bool _batchAxisDynamic;
    // Fixed by the first batch: whether batches are cut into rows, so _bytes keep one unit.
    private bool? _cutsRows;
    private RunPlan? _plan;
    private List<Group>? _groups;

    /// <summary>The tensors this session calibrates (graph inputs first, then fetched outputs).</summary>
    public IReadOnlyList<string> Tensors { get; }

    /// <summary>Tensors left out: by the selector, and those ONNX Runtime reports as non-float.</summary>
    public IReadOnlyList<SkippedTensor> Skipped => _skipped;

    /// <summary>The augmented model the session runs (with groups: the one that fetches every tensor).</summary>
    public OnnxModel AugmentedModel { get; } = null!;

    /// <summary>Whether ONNX Runtime reduces each tensor to its min, max and size inside the graph
    /// (MinMax only): activations are then freed during the run instead of all being returned.</summary>
    public bool ReducesInGraph { get; }

    /// <summary>How many augmented models share the tensors (1 unless one row, or one uncut batch, is over
    /// the budget; 0 before the first batch).</summary>
    public int GroupCount => ReducesInGraph ? 1 : _groups?.Count ?? 0;

    /// <summary>Calibrated tensors this session does not fetch: their histograms follow the values of a
    /// fetched source, so the calibrator must know them (<see cref="ICalibrator.Follow"/>).</summary>
    internal IReadOnlyList<ClampFollowers.Follower> Followers => _followers;

    /// <summary>Rows per sub-batch when the budget cuts batches (long.MaxValue: batches run whole).</summary>
    public long RowsPerRun => _cutsRows == true && _plan != null ? _plan.RowsPerRun : long.MaxValue;

    /// <summary>ONNX Runtime runs the last batch took: sub-batches times groups (the run of the reduced
    /// model that learns the sizes on the first batch not counted).</summary>
    public int LastBatchRuns { get; private set; }

    /// <param name="model">The float model.</param>
    /// <param name="selection">The tensors to calibrate (model inputs are read from the batches, not fetched).</param>
    /// <param name="intraOpThreads">ONNX Runtime intra-op threads (0: its default).</param>
    /// <param name="reduceInGraph">MinMax only: reduce each tensor to its minimum and maximum inside the graph
    /// instead of fetching it (falls back to fetching when the runtime lacks a reduction).</param>
    /// <param name="maxOutputBytes">Budget for the tensors one run returns (fetching sessions only);
    /// long.MaxValue: never split.</param>
    public CalibrationSession(OnnxModel model, TensorSelection selection, int intraOpThreads = 0, bool reduceInGraph = false, long maxOutputBytes = long.MaxValue)
        : this(model, selection, intraOpThreads, reduceInGraph, maxOutputBytes, null) { }

    /// <summary>A session that, when it fetches, leaves out the tensors whose histograms follow their sources'
    /// values (<see cref="Followers"/>: those whose source it fetches).</summary>
    internal CalibrationSession(OnnxModel model, TensorSelection selection, int intraOpThreads, bool reduceInGraph, long maxOutputBytes,
        IReadOnlyList<ClampFollowers.Follower>? followers)
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
        try { _batchAxisDynamic = new InputBinder(model).CanBatch; }
        catch (Exception e) when (e is NotSupportedException or ArgumentException) { } // inputs no binder feeds: never cut

        var derivable = reduceInGraph ? DerivedExtremes.Plan(model, fetched) : Array.Empty<(string, DerivedExtremes.Derivation)>();
        var derivableSet = derivable.Select(d => d.Tensor).ToHashSet(StringComparer.Ordinal);
        // Histograms that follow a source's values are not fetched: their values would only cost the run.
        var fetchedSet = fetched.ToHashSet(StringComparer.Ordinal);
        var following = reduceInGraph || followers == null ? new List<ClampFollowers.Follower>() : followers.Where(f => fetchedSet.Contains(f.Tensor)).ToList();
        var followingSet = following.Select(f => f.Tensor).ToHashSet(StringComparer.Ordinal);
        if (reduceInGraph)
        {
            // Falls back to fetching whole tensors when the runtime lacks a reduction for some type.
            var reduced = AugmentedModelBuilder.BuildWithReductions(model, fetched.Where(t => !derivableSet.Contains(t)));
            try
            {
                _session = CreateSession(reduced, keepSpinning: true);
                AugmentedModel = reduced;
                ReducesInGraph = true;
            }
            catch (OnnxRuntimeException) { }
        }
        if (_session == null)
        {
            AugmentedModel = AugmentedModelBuilder.Build(model, fetched.Where(t => !followingSet.Contains(t)), selection.KnownTypes);
            try { _session = CreateSession(AugmentedModel); }
            catch (OnnxRuntimeException e)
            {
                throw new OnnxModelException(ModelErrorKind.Invalid, $"ONNX Runtime cannot load the model for calibration: {e.Message}", model.Path, e);
            }
        }

        var outputs = _session.OutputMetadata;
        foreach (string t in fetched)
        {
            if ((ReducesInGraph && derivableSet.Contains(t)) || followingSet.Contains(t)) continue;
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
        if (ReducesInGraph)
            foreach (var (t, how) in derivable) // graph order: a derived source is accepted before its readers
            {
                if (!_elementBytes.TryGetValue(how.Source, out int bytes))
                {
                    _skipped.Add(new SkippedTensor(t, $"its extremes follow from '{how.Source}', which is not calibrated"));
                    continue;
                }
                _derived.Add((t, how));
                _elementBytes[t] = bytes;
            }
        foreach (var f in following) // sources are never followers: each is fetched or skipped by now
        {
            if (!_elementBytes.TryGetValue(f.Source, out int bytes))
            {
                _skipped.Add(new SkippedTensor(f.Tensor, $"its histogram follows the values of '{f.Source}', which is not calibrated"));
                continue;
            }
            _followers.Add(f);
            _elementBytes[f.Tensor] = bytes;
        }
        var calibrated = _tensors.Concat(_derived.Select(d => d.Tensor)).Concat(_followers.Select(f => f.Tensor)).ToHashSet(StringComparer.Ordinal);
        Tensors = _fromInputs.Concat(fetched.Where(calibrated.Contains)).ToList();
        if (!ReducesInGraph && maxOutputBytes == long.MaxValue)
        {
            _plan = new RunPlan(long.MaxValue, new List<List<string>> { _tensors.ToList() });
            _groups = new List<Group> { new(_session, _fetch) };
        }
    }

    // One CPU arena in the ORT environment, shared by the group sessions: per-session arenas would each
    // keep their own peak (N groups, N peaks; OCR recognizer 2.4 GiB). Without arenas it was 3x slower and
    // the C allocator kept 0.7 GiB after one reduced run; shrinking the arena after each run let it creep
    // (+10 % from 100 to 1000 samples). Growing by what is requested keeps it near the largest run.
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

    private InferenceSession CreateSession(OnnxModel m, bool shared = false, bool keepSpinning = false, bool runsOnce = false)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        // A session run once gains nothing from prepacked copies of the weights, which would double its memory.
        if (runsOnce) options.AddSessionConfigEntry("session.disable_prepacking", "1");
        if (_intraOpThreads > 0) options.IntraOpNumThreads = _intraOpThreads;
        if (shared)
        {
            _ = SharedArena.Value;
            options.AddSessionConfigEntry("session.use_env_allocators", "1");
        }
        // ORT's workers spin between the parallel parts of a run, which saves a wake-up each, but left spinning
        // after it they take the cores the calibrators then need: they stop at the end of each run (fashion-cnn,
        // Entropy 2048: faster than no spinning at all in 10 of 12 alternated runs, by up to 10 %). A reducing session
        // leaves nothing to do between runs, so it keeps ORT's default.
        if (!keepSpinning) options.AddSessionConfigEntry("session.force_spinning_stop", "1");
        using var file = RuntimeModelFile.For(m.ForRuntime()); // from a file: no 2 GiB protobuf, external data mapped
        return file.Open(options);
    }

    /// <summary>Runs one batch and updates <paramref name="calibrator"/>. Cancelling stops the run in progress.</summary>
    public void Run(IReadOnlyDictionary<string, NamedTensor> inputs, ICalibrator calibrator, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(calibrator);
        cancellationToken.ThrowIfCancellationRequested();

        calibrator.BeginPart(inputs, startsBatch: true);
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
                LastBatchRuns = 1;
                UpdateReduced(calibrator, results);
                return;
            }
            // A histogram does not depend on how a batch is cut; per-batch statistics (MinMax's moving
            // average) do, so those calibrators get whole batches (and groups when over the budget).
            bool partial = calibrator.TakesPartialBatches;
            if (_maxOutputBytes != long.MaxValue) _cutsRows ??= partial && _batchAxisDynamic;
            if (_cutsRows == true && !partial)
                throw new InvalidOperationException("A session that cuts batches into sub-batches feeds calibrators that take partial batches only.");
            long rows = _cutsRows == true ? Rows(inputs) : 1;
            if (_groups == null) Plan(inputs, names, values, rows, cancellationToken);
            RunParts(inputs, names, values, rows, calibrator, cancellationToken);
            // Later batches can be larger (dynamic dimensions): plan again before the next one.
            if (_maxOutputBytes != long.MaxValue && _plan!.Overflows(_bytes, _maxOutputBytes))
            {
                DisposeGroups();
                _groups = null;
                _plan = null;
            }
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    // Each sub-batch of rows, each group: a tensor's first non-empty part starts its batch in the
    // calibrator, the others continue it, so BatchCount counts the caller's batches.
    private void RunParts(IReadOnlyDictionary<string, NamedTensor> inputs, List<string> names, List<OrtValue> values, long rows, ICalibrator calibrator, CancellationToken cancellationToken)
    {
        long step = Math.Min(rows, _plan!.RowsPerRun);
        var started = new HashSet<string>(StringComparer.Ordinal);
        int runs = 0;
        for (long start = 0; start < rows; start += step)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long n = Math.Min(step, rows - start);
            var part = n == rows ? values : new List<OrtValue>(names.Count);
            try
            {
                // Sliced inputs are copies (one sub-batch of input rows, small next to the activations).
                if (n != rows)
                {
                    var sliced = names.ToDictionary(name => name, name => inputs[name].SliceRows(start, n), StringComparer.Ordinal);
                    foreach (var name in names) part.Add(sliced[name].ToOrtValue());
                    calibrator.BeginPart(sliced, startsBatch: false);
                }
                foreach (var g in _groups!)
                {
                    using var results = Execute(g.Session, names, part, g.Fetch, cancellationToken);
                    runs++;
                    var starts = new bool[g.Fetch.Count];
                    for (int k = 0; k < g.Fetch.Count; k++)
                    {
                        string t = g.Fetch[k];
                        long count = results[k].GetTensorTypeAndShape().ElementCount;
                        long perRow = (count * _elementBytes[t] + n - 1) / n;
                        if (perRow > _bytes.GetValueOrDefault(t)) _bytes[t] = perRow;
                        starts[k] = count > 0 && started.Add(t);
                    }
                    UpdateAll(calibrator, g.Fetch, results, starts);
                }
            }
            finally
            {
                if (!ReferenceEquals(part, values)) foreach (var v in part) v.Dispose();
            }
        }
        LastBatchRuns = runs;
    }

    // Rows along axis 0, when every input has them and they agree (the binder checks it); otherwise the batch is one unit.
    private static long Rows(IReadOnlyDictionary<string, NamedTensor> inputs)
    {
        long rows = -1;
        foreach (var x in inputs.Values)
        {
            if (x.Rank == 0 || (rows >= 0 && x.Rows != rows)) return 1;
            rows = x.Rows;
        }
        return Math.Max(rows, 1);
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
    // frees activations as it goes: learning them costs compute, not memory. A batch that may be cut into
    // rows is probed on its first row alone (sizes per row are what the plan needs).
    private void Plan(IReadOnlyDictionary<string, NamedTensor> inputs, List<string> names, List<OrtValue> values, long rows, CancellationToken cancellationToken)
    {
        if (_bytes.Count == 0)
        {
            // One session over the weights at a time (issue 21: Entropy peaked at 2x a 3 GB model's weights
            // with the all-tensor session kept beside the probe): the all-tensor one is opened again if
            // the plan has a single group.
            _session?.Dispose();
            _session = null;
            InferenceSession? probe = null;
            try { probe = CreateSession(AugmentedModelBuilder.BuildWithReductions(_model, _tensors), runsOnce: true); }
            catch (OnnxRuntimeException) { } // no reduction kernel for some type: sizes stay unknown, one group
            if (probe != null)
            {
                using (probe)
                {
                    var sizeNames = _tensors.Select(t => t + AugmentedModelBuilder.SizeSuffix).ToList();
                    var row = rows > 1 ? names.Select(n => inputs[n].SliceRows(0, 1).ToOrtValue()).ToList() : null;
                    try
                    {
                        using var sizes = Execute(probe, names, row ?? values, sizeNames, cancellationToken);
                        long probed = row != null ? 1 : rows;
                        for (int k = 0; k < _tensors.Count; k++)
                            _bytes[_tensors[k]] = (sizes[k].GetTensorDataAsSpan<long>()[0] * _elementBytes[_tensors[k]] + probed - 1) / probed;
                    }
                    // A reduction that fails at run time (e.g. over an empty tensor): sizes come from the first
                    // full run instead, and the groups are planned from the second batch on.
                    catch (OnnxRuntimeException) when (!cancellationToken.IsCancellationRequested) { _bytes.Clear(); }
                    finally { if (row != null) foreach (var v in row) v.Dispose(); }
                }
            }
        }
        _plan = RunPlan.Create(_tensors, _bytes, _maxOutputBytes);
        if (_plan.Groups.Count == 1)
        {
            _session ??= CreateSession(AugmentedModel);
            _groups = new List<Group> { new(_session, _fetch) };
            return;
        }
        // The all-tensor session is not needed any more: free its weights.
        _session?.Dispose();
        _session = null;
        _groups = _plan.Groups.Select(g => new Group(CreateSession(AugmentedModelBuilder.Build(_model, g, KnownTypes(g)), shared: true), g)).ToList();
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
    private static void UpdateAll(ICalibrator calibrator, List<string> fetch, IReadOnlyList<OrtValue> results, bool[] starts)
    {
        if (results.Count > 1 && Environment.ProcessorCount > 1 && calibrator.UpdatesConcurrently)
            Parallel.For(0, results.Count, new ParallelOptions { MaxDegreeOfParallelism = HistogramMemoryPlan.Workers },
                k => Update(calibrator, fetch[k], results[k], starts[k]));
        else
            for (int k = 0; k < results.Count; k++) Update(calibrator, fetch[k], results[k], starts[k]);
    }

    private static void Update(ICalibrator calibrator, string tensor, OrtValue value, bool startsBatch)
    {
        var info = value.GetTensorTypeAndShape();
        if (info.ElementDataType == TensorElementType.Float)
        {
            calibrator.Update(tensor, value.GetTensorDataAsSpan<float>(), startsBatch);
            return;
        }
        var half = MemoryMarshal.Cast<Float16, Half>(value.GetTensorDataAsSpan<Float16>());
        var buf = ArrayPool<float>.Shared.Rent(half.Length);
        try
        {
            TensorPrimitives.ConvertToSingle(half, buf.AsSpan(0, half.Length));
            calibrator.Update(tensor, buf.AsSpan(0, half.Length), startsBatch);
        }
        finally { ArrayPool<float>.Shared.Return(buf); }
    }

    private void UpdateReduced(ICalibrator calibrator, IReadOnlyList<OrtValue> results)
    {
        if (calibrator.Input != CalibrationInput.Extremes)
            throw new InvalidOperationException("A session that reduces in the graph feeds calibrators that take extremes only.");
        var batch = new Dictionary<string, (float Min, float Max, long Size)>(StringComparer.Ordinal);
        for (int k = 0; k < _tensors.Count; k++)
        {
            long size = results[3 * k + 2].GetTensorDataAsSpan<long>()[0];
            if (size == 0) continue;
            var e = (Scalar(results[3 * k]), Scalar(results[3 * k + 1]), size);
            batch[_tensors[k]] = e;
            calibrator.UpdateExtremes(_tensors[k], e.Item1, e.Item2, size);
        }
        foreach (var (t, how) in _derived)
            if (batch.TryGetValue(how.Source, out var s))
                calibrator.UpdateExtremes(t, how.Apply(s.Min), how.Apply(s.Max), s.Size);
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
