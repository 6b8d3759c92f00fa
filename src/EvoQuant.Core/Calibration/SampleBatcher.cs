using EvoQuant.Data;

namespace EvoQuant.Calibration;

/// <summary>A group of bound samples to run at once.</summary>
public sealed record SampleBatch(IReadOnlyDictionary<string, NamedTensor> Inputs, long Rows, IReadOnlyList<string> Sources);

/// <summary>Groups bound samples into batches of up to BatchSize rows along axis 0 when every input's
/// batch axis is dynamic (splitting larger samples, concatenating smaller ones whose other dims agree);
/// otherwise each sample runs as it is. Holds at most one batch of pending rows.</summary>
internal sealed class SampleBatcher
{
    private readonly bool _canBatch;
    private readonly int _batchSize;
    private readonly List<BoundSample> _pending = new();
    private long _pendingRows;

    public SampleBatcher(bool canBatch, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _canBatch = canBatch;
        _batchSize = batchSize;
    }

    /// <summary>Adds a sample and returns the batches that became full.</summary>
    public IEnumerable<SampleBatch> Add(BoundSample s)
    {
        if (!_canBatch)
        {
            yield return new SampleBatch(s.Inputs, s.Rows, new[] { s.Source });
            yield break;
        }
        if (_pending.Count > 0 && !Compatible(_pending[0], s))
            foreach (var b in Flush()) yield return b;
        long offset = 0;
        while (offset < s.Rows)
        {
            long take = Math.Min(_batchSize - _pendingRows, s.Rows - offset);
            var part = offset == 0 && take == s.Rows ? s : Slice(s, offset, take);
            _pending.Add(part);
            _pendingRows += take;
            offset += take;
            if (_pendingRows >= _batchSize)
                foreach (var b in Flush()) yield return b;
        }
    }

    /// <summary>The last, partial batch.</summary>
    public IEnumerable<SampleBatch> Flush()
    {
        if (_pending.Count == 0) yield break;
        var names = _pending[0].Inputs.Keys.ToList();
        var inputs = names.ToDictionary(n => n, n => NamedTensor.ConcatRows(_pending.Select(p => p.Inputs[n]).ToList()), StringComparer.Ordinal);
        var batch = new SampleBatch(inputs, _pendingRows, _pending.Select(p => p.Source).Distinct().ToList());
        _pending.Clear();
        _pendingRows = 0;
        yield return batch;
    }

    private static BoundSample Slice(BoundSample s, long start, long count) =>
        new(s.Inputs.ToDictionary(kv => kv.Key, kv => kv.Value.SliceRows(start, count), StringComparer.Ordinal), count, s.Source);

    // Samples concatenate when every input agrees in element type and in all dims but the first.
    private static bool Compatible(BoundSample a, BoundSample b)
    {
        foreach (var (name, ta) in a.Inputs)
        {
            var tb = b.Inputs[name];
            if (ta.ElementType != tb.ElementType || ta.Rank != tb.Rank || ta.Rank == 0) return false;
            for (int d = 1; d < ta.Rank; d++) if (ta.Shape[d] != tb.Shape[d]) return false;
        }
        return true;
    }
}
