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

    /// <summary>Adds <paramref name="rowCount"/> rows of <see cref="Channels"/> values each (row-major).</summary>
    public void Accumulate(ReadOnlySpan<float> rows, int rowCount)
    {
        int k = Channels;
        if (rows.Length != (long)rowCount * k) throw new ArgumentException($"{rows.Length} values are not {rowCount} rows of {k}.", nameof(rows));
        for (int r = 0; r < rowCount; r++)
        {
            var x = rows.Slice(r * k, k);
            for (int i = 0; i < k; i++)
            {
                double xi = x[i];
                if (xi == 0) continue;
                AbsSum[i] += Math.Abs(xi);
                var row = Gram.AsSpan(i * k, k);
                for (int j = 0; j < k; j++) row[j] += xi * x[j];
            }
        }
        RowCount += rowCount;
    }

    /// <summary>Mean |x| per input channel.</summary>
    public double[] MeanAbs() => AbsSum.Select(s => RowCount == 0 ? 0 : s / RowCount).ToArray();
}
