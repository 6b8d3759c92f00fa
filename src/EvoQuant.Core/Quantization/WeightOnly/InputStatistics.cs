using System.Numerics.Tensors;

namespace EvoQuant.Quantization.WeightOnly;

/// <summary>What calibration-aware weight-only methods know of a MatMul's input X (rows of K values):
/// the Gram matrix X^T X (GPTQ's Hessian, up to a factor 2/rows) and the mean absolute value per input
/// channel (AWQ's activation salience). Accumulated batch by batch: its size is K*K whatever the number
/// of calibration samples, so collecting it streams in bounded memory.</summary>
public sealed class InputStatistics
{
    public int Channels { get; }

    /// <summary>Sum over rows of x x^T, [K, K] row-major, in double so long streams do not lose precision.</summary>
    public double[] Gram { get; }

    /// <summary>Sum over rows of |x|, per channel.</summary>
    public double[] AbsSum { get; }

    public long RowCount { get; private set; }

    public InputStatistics(int channels)
    {
        if (channels < 1) throw new ArgumentOutOfRangeException(nameof(channels));
        Channels = channels;
        Gram = new double[(long)channels * channels];
        AbsSum = new double[channels];
    }

    /// <summary>Rows transposed per chunk: the Gram update is then dot products of contiguous channel vectors.</summary>
    private const int ChunkRows = 256;

    /// <summary>Channels of the chunk kept hot (in L2) while every earlier channel is dotted with them.</summary>
    private const int TileChannels = 64;

    /// <summary>Adds <paramref name="rowCount"/> rows of <see cref="Channels"/> values each (row-major).</summary>
    /// <remarks>Cost rows·K²/2 multiply-adds: the rows are transposed in chunks of 256 ([K, 256]), the upper
    /// triangle is updated with float dot products of 256 values (8 lanes of AVX2; relative error about 1e-6)
    /// added to the double sums, over tiles of channels, then mirrored, so the Gram is symmetric whenever
    /// this returns.</remarks>
    public void Accumulate(ReadOnlySpan<float> rows, int rowCount) => Accumulate(rows, rowCount, null);

    /// <summary>Adds the rows <paramref name="selected"/> (indices, in order; null: all <paramref name="rowCount"/>)
    /// of <paramref name="rows"/>: the same sums as those rows copied out and added, without the copy.</summary>
    internal void Accumulate(ReadOnlySpan<float> rows, int rowCount, int[]? selected)
    {
        int k = Channels;
        if (rows.Length != (long)rowCount * k) throw new ArgumentException($"{rows.Length} values are not {rowCount} rows of {k}.", nameof(rows));
        int count = selected?.Length ?? rowCount;
        if (count == 0) return;
        int chunk = Math.Min(ChunkRows, count);
        var xt = Transposed((long)k * chunk);
        for (int r0 = 0; r0 < count; r0 += chunk)
        {
            int m = Math.Min(chunk, count - r0);
            for (int r = 0; r < m; r++)
            {
                var x = rows.Slice((selected != null ? selected[r0 + r] : r0 + r) * k, k);
                for (int i = 0; i < k; i++)
                {
                    float v = x[i];
                    xt[(long)i * m + r] = v;
                    AbsSum[i] += Math.Abs(v);
                }
            }
            for (int j0 = 0; j0 < k; j0 += TileChannels)
            {
                int j1 = Math.Min(k, j0 + TileChannels);
                for (int i = 0; i < j1; i++)
                {
                    var xi = xt.AsSpan(i * m, m);
                    var g = Gram.AsSpan(i * k, k);
                    for (int j = Math.Max(i, j0); j < j1; j++) g[j] += TensorPrimitives.Dot(xi, xt.AsSpan(j * m, m));
                }
            }
        }
        for (int i = 0; i < k; i++)
            for (int j = i + 1; j < k; j++) Gram[(long)j * k + i] = Gram[(long)i * k + j];
        RowCount += count;
    }

    // The chunk buffer of this thread (updates of different inputs run in parallel), kept for the next batch:
    // one per batch and input would be garbage the collector lets pile up to the size of the statistics.
    [ThreadStatic] private static float[]? t_transposed;

    private static float[] Transposed(long length)
    {
        if (t_transposed == null || t_transposed.Length < length) t_transposed = new float[length];
        return t_transposed;
    }

    /// <summary>Adds the statistics of other rows of the same input (another shard of the samples).</summary>
    public void Add(InputStatistics other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Channels != Channels) throw new ArgumentException($"Statistics of {other.Channels} channels cannot be added to {Channels}.", nameof(other));
        TensorPrimitives.Add<double>(Gram, other.Gram, Gram);
        TensorPrimitives.Add<double>(AbsSum, other.AbsSum, AbsSum);
        RowCount += other.RowCount;
    }

    /// <summary>Mean |x| per input channel.</summary>
    public double[] MeanAbs() => AbsSum.Select(s => RowCount == 0 ? 0 : s / RowCount).ToArray();
}
