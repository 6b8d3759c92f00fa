using EvoQuant.Numerics;

namespace EvoQuant.Evaluation;

/// <summary>Running error sums of one tensor seen in batches. Holds only sums (in double), so memory
/// does not grow with the number of samples, and the summary equals the metrics over the concatenated
/// data (up to the order of floating-point additions).</summary>
public sealed class ErrorAccumulator
{
    private ErrorMetrics.Sums _sums;
    private bool _nan;

    /// <summary>Elements seen so far.</summary>
    public long Count { get; private set; }

    /// <summary>Adds one batch: equal lengths, reference first.</summary>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public void Add(ReadOnlySpan<float> reference, ReadOnlySpan<float> candidate)
    {
        var s = ErrorMetrics.Sums.Compute(reference, candidate);
        // NaN must stay visible: the max of a NaN batch is not propagated by Math.Max in the sums.
        if (double.IsNaN(s.AbsDiff) || double.IsNaN(s.RefSq) || double.IsNaN(s.CandSq)) _nan = true;
        _sums.RefSq += s.RefSq;
        _sums.CandSq += s.CandSq;
        _sums.Dot += s.Dot;
        _sums.DiffSq += s.DiffSq;
        _sums.AbsDiff += s.AbsDiff;
        _sums.MaxAbsDiff = Math.Max(_sums.MaxAbsDiff, s.MaxAbsDiff);
        Count += reference.Length;
    }

    /// <summary>Adds the sums of another accumulator (a shard of the same stream).</summary>
    public void Merge(ErrorAccumulator other)
    {
        ArgumentNullException.ThrowIfNull(other);
        _nan |= other._nan;
        _sums.RefSq += other._sums.RefSq;
        _sums.CandSq += other._sums.CandSq;
        _sums.Dot += other._sums.Dot;
        _sums.DiffSq += other._sums.DiffSq;
        _sums.AbsDiff += other._sums.AbsDiff;
        _sums.MaxAbsDiff = Math.Max(_sums.MaxAbsDiff, other._sums.MaxAbsDiff);
        Count += other.Count;
    }

    /// <summary>Sum of squares of the reference (signal energy).</summary>
    public double ReferenceEnergy => _sums.RefSq;

    /// <summary>Sum of squared differences (noise energy).</summary>
    public double NoiseEnergy => _sums.DiffSq;

    /// <summary>The metrics over everything added.</summary>
    public ErrorSummary Summary
    {
        get
        {
            var s = _sums;
            if (_nan) s.AbsDiff = double.NaN;
            return s.ToSummary(Count);
        }
    }
}
