using EvoQuant.Data;

namespace EvoQuant.Calibration;

/// <summary>The first rows of the calibration stream, up to a fixed number, kept (copied: the batcher's buffers are not the caller's) for a search that
/// runs after the stream (<see cref="CalibrationMethod.EQ"/>); later batches are not kept, so what it holds
/// does not grow with the number of samples.</summary>
internal sealed class SearchSamples
{
    private readonly List<IReadOnlyDictionary<string, NamedTensor>> _batches = new();

    public SearchSamples(int maxRows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        MaxRows = maxRows;
    }

    public int MaxRows { get; }

    /// <summary>Rows kept.</summary>
    public long Rows { get; private set; }

    /// <summary>Bytes of the kept inputs.</summary>
    public long Bytes { get; private set; }

    public IReadOnlyList<IReadOnlyDictionary<string, NamedTensor>> Batches => _batches;

    private static IReadOnlyDictionary<string, NamedTensor>? TryJoin(IReadOnlyDictionary<string, NamedTensor> last, Dictionary<string, NamedTensor> next)
    {
        if (last.Count != next.Count || !last.Keys.All(next.ContainsKey)) return null;
        if (last.Values.Any(t => t.Rank == 0) || last.Select(p => p.Value.Rows).Distinct().Count() != 1) return null;
        try { return last.ToDictionary(p => p.Key, p => NamedTensor.ConcatRows(new[] { p.Value, next[p.Key] }), StringComparer.Ordinal); }
        catch (ArgumentException) { return null; } // other trailing dims or types: a batch of its own
    }

    /// <summary>Keeps the batch's first rows that still fit (a batch whose rows cannot be cut is kept whole
    /// while rows remain: one sample).</summary>
    public void Add(SampleBatch batch)
    {
        long room = MaxRows - Rows;
        if (room <= 0) return;
        // Whether every input has the batch's rows along axis 0: only then can the batch be cut or joined.
        bool byRows = batch.Inputs.Values.All(t => t.Rank > 0 && t.Rows == batch.Rows);
        bool cut = byRows && batch.Rows > room;
        long rows = cut ? room : batch.Rows;
        var kept = batch.Inputs.ToDictionary(p => p.Key, p => p.Value.Rank == 0 ? p.Value : p.Value.SliceRows(0, cut ? rows : p.Value.Rows), StringComparer.Ordinal);
        // Rows that can join the last batch do (one ONNX Runtime run per candidate instead of one per batch).
        if (byRows && _batches.Count > 0 && TryJoin(_batches[^1], kept) is { } joined) _batches[^1] = joined;
        else _batches.Add(kept);
        Rows += rows;
        Bytes += kept.Values.Sum(t => (long)Buffer.ByteLength(t.Data));
    }
}
