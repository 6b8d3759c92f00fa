namespace EvoQuant.Numerics;

/// <summary>
/// Streams <see cref="ErrorMetrics"/> over batches: feed reference/candidate pairs as they come, merge
/// partial accumulators (from parallel workers or shards), read the summary at the end. Memory is
/// constant in the number of batches.
/// </summary>
public sealed class ErrorAccumulator
{
    private ErrorMetrics.Sums _sums;

    /// <summary>Elements seen so far.</summary>
    public long Count { get; private set; }

    /// <summary>Adds one batch.</summary>
    /// <exception cref="ArgumentException">Length mismatch.</exception>
    public void Add(ReadOnlySpan<float> reference, ReadOnlySpan<float> candidate)
    {
        var s = ErrorMetrics.Sums.Compute(reference, candidate);
        _sums.Merge(s);
        Count += reference.Length;
    }

    /// <summary>Adds what another accumulator has seen.</summary>
    public void Merge(ErrorAccumulator other)
    {
        ArgumentNullException.ThrowIfNull(other);
        _sums.Merge(other._sums);
        Count += other.Count;
    }

    /// <summary>The measures over everything added.</summary>
    public ErrorSummary Summary => _sums.ToSummary(Count);
}
