namespace EvoQuant.Calibration;

/// <summary>Collects statistics of tensors batch by batch and turns them into ranges. Implementations
/// keep only bounded per-tensor state (never the values), and merge: two calibrators fed with two
/// parts of a stream, merged, give what one fed with the whole stream gives.</summary>
public interface ICalibrator
{
    CalibrationSettings Settings { get; }

    /// <summary>Adds one batch of one tensor's values. The span is not kept.</summary>
    void Update(string tensor, ReadOnlySpan<float> values);

    /// <summary>Adds the statistics of another calibrator with equal settings.</summary>
    void Merge(ICalibrator other);

    /// <summary>The ranges of every tensor seen, ordered by tensor name.</summary>
    IReadOnlyList<TensorRange> ComputeRanges();
}
