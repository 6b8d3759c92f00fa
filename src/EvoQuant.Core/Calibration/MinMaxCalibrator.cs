using EvoQuant.Numerics;

namespace EvoQuant.Calibration;

/// <summary>Running minimum and maximum of each tensor. With <see cref="CalibrationSettings.MovingAverage"/>
/// the range is the mean of the per-batch minima and maxima: what the reference tool computes when it
/// averages the batches it collected (its 0.01 smoothing constant only applies between chunks of
/// max_intermediate_outputs, which is order dependent and could not merge). Sums merge exactly.</summary>
public sealed class MinMaxCalibrator : ICalibrator
{
    private sealed class State
    {
        public float Min = float.PositiveInfinity, Max = float.NegativeInfinity;
        public double BatchMinSum, BatchMaxSum;
        public long Batches, Count, NonFinite;
    }

    private readonly Dictionary<string, State> _states = new(StringComparer.Ordinal);

    public CalibrationSettings Settings { get; }

    public MinMaxCalibrator(CalibrationSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Method != CalibrationMethod.MinMax) throw new ArgumentException("MinMaxCalibrator needs Method = MinMax.", nameof(settings));
        settings.Validate();
        Settings = settings;
    }

    /// <summary>Only extremes are needed: the session reduces each tensor inside the graph.</summary>
    public CalibrationInput Input => CalibrationInput.Extremes;

    /// <summary>False: the moving average is of per-batch extremes, so a batch must come whole.</summary>
    public bool TakesPartialBatches => false;

    public bool UpdatesConcurrently => true;

    /// <summary>Safe to call concurrently for distinct tensors (the session updates tensors in parallel).</summary>
    public void Update(string tensor, ReadOnlySpan<float> values) => Update(tensor, values, startsBatch: true);

    /// <summary>Batches come whole: <paramref name="startsBatch"/> false is refused for a non-empty part.</summary>
    public void Update(string tensor, ReadOnlySpan<float> values, bool startsBatch)
    {
        if (values.IsEmpty) return;
        if (!startsBatch) throw new InvalidOperationException("MinMax statistics are per batch: a batch cannot continue in parts.");
        State? s;
        lock (_states)
            if (!_states.TryGetValue(tensor, out s)) _states[tensor] = s = new State();
        // NaN and infinities are left out and counted (the policy on ICalibrator).
        long nonFinite = Kernels.CountNonFinite(values);
        if (nonFinite == values.Length)
        {
            s.NonFinite += nonFinite;
            return;
        }
        var (min, max) = Kernels.MinMax(values); // NaN ignored
        if (!float.IsFinite(min) || !float.IsFinite(max))
        {
            // An infinity is no range: the rare batch that holds one takes the finite extremes one by one.
            min = float.PositiveInfinity;
            max = float.NegativeInfinity;
            foreach (float v in values)
            {
                if (!float.IsFinite(v)) continue;
                if (v < min) min = v;
                if (v > max) max = v;
            }
        }
        s.NonFinite += nonFinite;
        s.Min = Math.Min(s.Min, min);
        s.Max = Math.Max(s.Max, max);
        s.BatchMinSum += min;
        s.BatchMaxSum += max;
        s.Batches++;
        s.Count += values.Length - nonFinite;
    }

    /// <summary>Adds one batch of a tensor known only by its extremes and element count (the in-graph
    /// reduction). A NaN extreme means the batch held a NaN: the batch is counted as non-finite.</summary>
    public void UpdateExtremes(string tensor, float min, float max, long count)
    {
        State? s;
        lock (_states)
            if (!_states.TryGetValue(tensor, out s)) _states[tensor] = s = new State();
        if (!float.IsFinite(min) || !float.IsFinite(max))
        {
            s.NonFinite += count;
            return;
        }
        s.Min = Math.Min(s.Min, min);
        s.Max = Math.Max(s.Max, max);
        s.BatchMinSum += min;
        s.BatchMaxSum += max;
        s.Batches++;
        s.Count += count;
    }

    public void Merge(ICalibrator other)
    {
        if (other is not MinMaxCalibrator o || o.Settings != Settings)
            throw new ArgumentException("Only a MinMax calibrator with equal settings can be merged.", nameof(other));
        foreach (var (name, theirs) in o._states)
        {
            if (!_states.TryGetValue(name, out var s)) _states[name] = s = new State();
            s.Min = Math.Min(s.Min, theirs.Min);
            s.Max = Math.Max(s.Max, theirs.Max);
            s.BatchMinSum += theirs.BatchMinSum;
            s.BatchMaxSum += theirs.BatchMaxSum;
            s.Batches += theirs.Batches;
            s.Count += theirs.Count;
            s.NonFinite += theirs.NonFinite;
        }
    }

    /// <summary>Restores the state of a tensor from a table row (to merge tables).</summary>
    void ICalibrator.Load(TensorRange r) => Load(r);

    internal void Load(TensorRange r)
    {
        _states[r.Tensor] = new State
        {
            Min = r.Min, Max = r.Max, BatchMinSum = r.BatchMinSum, BatchMaxSum = r.BatchMaxSum,
            Batches = r.BatchCount, Count = r.ElementCount, NonFinite = r.NonFiniteCount,
        };
    }

    public IReadOnlyList<TensorRange> ComputeRanges()
    {
        var list = new List<TensorRange>(_states.Count);
        foreach (var (name, s) in _states.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            float lo, hi;
            if (s.Batches == 0) lo = hi = 0; // only non-finite values were seen
            else if (Settings.MovingAverage) { lo = (float)(s.BatchMinSum / s.Batches); hi = (float)(s.BatchMaxSum / s.Batches); }
            else { lo = s.Min; hi = s.Max; }
            (lo, hi) = RangeRules.Finish(lo, hi, Settings.Symmetric);
            list.Add(new TensorRange(name, CalibrationMethod.MinMax, s.Batches == 0 ? 0 : s.Min, s.Batches == 0 ? 0 : s.Max, lo, hi)
            {
                ElementCount = s.Count, BatchCount = s.Batches, NonFiniteCount = s.NonFinite,
                BatchMinSum = s.BatchMinSum, BatchMaxSum = s.BatchMaxSum,
            });
        }
        return list;
    }
}
