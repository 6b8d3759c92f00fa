using System.Numerics.Tensors;

namespace EvoQuant.Quantization.Smoothing;

/// <summary>The smallest and largest value of each channel (last axis) of an activation tensor over the
/// calibration samples: what smoothing needs (max |x| per channel) and what it derives the smoothed tensor's
/// range from (min and max of x / s are the channels' extremes divided by their s, s &gt; 0).</summary>
public sealed class ChannelRange
{
    public ChannelRange(int channels)
    {
        if (channels < 1) throw new ArgumentOutOfRangeException(nameof(channels), "A tensor has at least one channel.");
        Min = new float[channels];
        Max = new float[channels];
        Array.Fill(Min, float.PositiveInfinity);
        Array.Fill(Max, float.NegativeInfinity);
    }

    /// <param name="rows">Rows the extremes were taken over (a range restored from a table keeps its count).</param>
    public ChannelRange(float[] min, float[] max, long rows = 0)
    {
        ArgumentNullException.ThrowIfNull(min);
        ArgumentNullException.ThrowIfNull(max);
        if (min.Length != max.Length || min.Length == 0) throw new ArgumentException("Minima and maxima need one value per channel each.");
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        Min = min;
        Max = max;
        Rows = rows;
    }

    /// <summary>A copy that accumulates on its own.</summary>
    public ChannelRange Clone() => new((float[])Min.Clone(), (float[])Max.Clone(), Rows);

    public float[] Min { get; }
    public float[] Max { get; }
    public int Channels => Min.Length;

    /// <summary>Rows of values seen.</summary>
    public long Rows { get; private set; }

    /// <summary>Adds rows of <see cref="Channels"/> values (NaN is ignored).</summary>
    public void Accumulate(ReadOnlySpan<float> values)
    {
        int k = Channels;
        if (values.Length % k != 0)
            throw new InvalidOperationException($"{values.Length} values are not rows of {k} channels.");
        for (int r = 0; r < values.Length; r += k)
        {
            TensorPrimitives.MinNumber(Min, values.Slice(r, k), Min);
            TensorPrimitives.MaxNumber(Max, values.Slice(r, k), Max);
        }
        Rows += values.Length / k;
    }

    /// <summary>Adds another shard's extremes.</summary>
    public void Add(ChannelRange other)
    {
        if (other.Channels != Channels) throw new ArgumentException($"{other.Channels} channels cannot merge with {Channels}.");
        TensorPrimitives.MinNumber(Min, other.Min, Min);
        TensorPrimitives.MaxNumber(Max, other.Max, Max);
        Rows += other.Rows;
    }

    /// <summary>max |x| of channel <paramref name="j"/> (0 when the channel saw no finite value).</summary>
    public float AbsMax(int j) => Rows == 0 || Min[j] > Max[j] ? 0f : Math.Max(Math.Abs(Min[j]), Math.Abs(Max[j]));
}
