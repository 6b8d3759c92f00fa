namespace EvoQuant.Calibration;

/// <summary>What a calibrator reads of each batch of a tensor; the session runs the model accordingly.</summary>
public enum CalibrationInput
{
    /// <summary>Every value (<see cref="ICalibrator.Update(string, ReadOnlySpan{float}, bool)"/>).</summary>
    Values,
    /// <summary>Only the minimum, maximum and element count (<see cref="ICalibrator.UpdateExtremes"/>): ONNX
    /// Runtime can reduce each tensor inside the graph and free it during the run.</summary>
    Extremes,
}

/// <summary>Collects statistics of tensors batch by batch and turns them into ranges. Implementations
/// keep only bounded per-tensor state (never the values), and merge: two calibrators fed with two
/// parts of a stream, merged, give what one fed with the whole stream gives. The session and the run
/// know a calibrator only through this interface.</summary>
/// <remarks>NaN and infinity: samples holding them are refused before the run (<see cref="InputBinder"/>:
/// a specific error names the input), since they are bad data the user can fix. Values the model computes
/// (a 0/0 in one channel, a log of 0) are not: every calibrator leaves NaN and ±infinity out of its minimum,
/// maximum and histogram and counts them in <see cref="TensorRange.NonFiniteCount"/>, so one stray value
/// neither poisons a range (NaN would) nor stretches it past any scale (infinity would), and the count
/// keeps it visible (Measure-Calibration warns). A tensor with nothing but such values has no range and is
/// skipped with the reason. Extremes come from <see cref="Numerics.Kernels.MinMax"/> (NaN ignored) and the
/// count from <see cref="Numerics.Kernels.CountNonFinite"/>; the one exception is the in-graph reduction,
/// which sees only a batch's extremes: a NaN or infinite extreme counts that batch's elements as non-finite,
/// as its finite values cannot be told apart.</remarks>
public interface ICalibrator
{
    CalibrationSettings Settings { get; }

    /// <summary>What the calibrator needs of each batch (by default every value).</summary>
    CalibrationInput Input => CalibrationInput.Values;

    /// <summary>Whether a batch may come in parts (the first with startsBatch true, the others false): true
    /// when the statistics do not depend on where a batch is cut (histograms); false when they are per
    /// batch (MinMax's moving average, and by default), and the session then feeds whole batches.</summary>
    bool TakesPartialBatches => false;

    /// <summary>Whether <see cref="Update(string, ReadOnlySpan{float}, bool)"/> may be called concurrently
    /// for distinct tensors (the session then updates them on all cores); by default not.</summary>
    bool UpdatesConcurrently => false;

    /// <summary>Adds one batch of one tensor's values. The span is not kept.</summary>
    void Update(string tensor, ReadOnlySpan<float> values);

    /// <summary>With <paramref name="startsBatch"/> false the values continue the tensor's last batch (only
    /// when <see cref="TakesPartialBatches"/>), so its batch count stays the caller's.</summary>
    void Update(string tensor, ReadOnlySpan<float> values, bool startsBatch)
    {
        if (!startsBatch && !values.IsEmpty) throw new InvalidOperationException($"{GetType().Name} takes whole batches only.");
        Update(tensor, values);
    }

    /// <summary>Called with the model inputs of each batch (<paramref name="startsBatch"/> true), then with
    /// those of each sub-batch of rows when the session cuts it (false), before that part's values arrive:
    /// for calibrators that weigh rows by an input, like a padding mask. By default ignored.</summary>
    internal void BeginPart(IReadOnlyDictionary<string, Data.NamedTensor> inputs, bool startsBatch) { }

    /// <summary>Adds one batch of a tensor known only by its extremes and element count (when
    /// <see cref="Input"/> is <see cref="CalibrationInput.Extremes"/>). A NaN extreme means the batch
    /// held a NaN: see the NaN policy on <see cref="MinMaxCalibrator"/>.</summary>
    void UpdateExtremes(string tensor, float min, float max, long count) =>
        throw new NotSupportedException($"{GetType().Name} needs every value, not only the extremes.");

    /// <summary>Adds the statistics of another calibrator with equal settings (another shard of the data).</summary>
    void Merge(ICalibrator other);

    /// <summary>The ranges of every tensor seen, ordered by tensor name.</summary>
    IReadOnlyList<TensorRange> ComputeRanges();

    /// <summary>Restores a tensor's statistics from a table row, so a table can be merged or continued.</summary>
    internal void Load(TensorRange row) =>
        throw new NotSupportedException($"{GetType().Name} cannot restore statistics from a table.");

    /// <summary>Whether the calibrator can take a tensor's statistics from another tensor's values when the
    /// first only clamps or moves the second's (<see cref="Follow"/>).</summary>
    internal bool FollowsClamps => false;

    /// <summary>Makes a follower's statistics come from its source's values; false when it cannot.</summary>
    internal bool Follow(ClampFollowers.Follower follower) => false;
}
