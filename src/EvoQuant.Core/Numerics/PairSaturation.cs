namespace EvoQuant.Numerics;

/// <summary>
/// Weights that cannot saturate x86's vpmaddubsw. Without VNNI, ONNX Runtime's u8 x s8 kernels multiply
/// each activation byte (0..255) by a weight byte and add adjacent pairs of products into a saturating
/// 16-bit sum. A pair overflows only when both weights have the same sign and |q0| + |q1| > 128
/// (255 x 129 > 32767). reduce_range avoids that by giving every weight 7 bits. A pair-safe scale gives
/// up only what the largest same-signed pair needs: with s = S / 127, where S is the largest same-signed
/// pair sum of the channel's float weights, every |q| &lt;= 127 and every pair sums to at most 128 (each
/// rounding adds at most half a step). Where the largest weight's neighbours are small or of the other
/// sign, that is almost the full 8 bits; at worst it is reduce_range's 7.
/// </summary>
public static class PairSaturation
{
    /// <summary>Largest |q0 + q1| of a same-signed pair that vpmaddubsw sums without saturating for
    /// any activation byte: 255 x 128 = 32640 &lt;= 32767.</summary>
    public const int MaxSafePairSum = 128;

    /// <summary>For each output channel (index along <see cref="ReductionLayout.OutputAxis"/>), the largest
    /// magnitude of a same-signed adjacent pair sum (or of an unpaired last element). NaN is ignored.</summary>
    public static double[] LargestPairSums(ReadOnlySpan<float> data, ReadOnlySpan<long> dims, ReductionLayout layout)
    {
        var pairs = PairIndex.Build(dims, layout, data.Length);
        var result = new double[pairs.Channels];
        for (int p = 0; p < pairs.Count; p++)
        {
            double m = SameSignSum(Value(data, pairs.A[p]), Value(data, pairs.B[p]));
            if (m > result[pairs.Channel[p]]) result[pairs.Channel[p]] = m;
        }
        return result;
    }

    /// <summary>The largest same-signed |q0 + q1| among adjacent pairs of quantized weights (zero point
    /// already removed): the check that nothing can saturate.</summary>
    public static int LargestQuantizedPairSum(ReadOnlySpan<int> q, ReadOnlySpan<long> dims, ReductionLayout layout)
    {
        var asFloat = new float[q.Length];
        for (int i = 0; i < q.Length; i++) asFloat[i] = q[i];
        return (int)LargestPairSums(asFloat, dims, layout).DefaultIfEmpty(0).Max();
    }

    /// <summary>Pair-safe symmetric int8 scales: one per channel of the layout's output axis when
    /// <paramref name="perChannel"/>, else one for the tensor. Each is the largest same-signed pair sum
    /// / 127 where that is wider than the full-range scale. Returns the scales and how many were widened.</summary>
    /// <remarks>A search for the scale of least weight error, with the pairs still over the safe sum
    /// pulled back, was measured too: +0.3 dB on fashion-cnn, but the PaddleOCR classifier's agreement fell
    /// from 99 to 98 of 102 crops and the recognizer's dynamic cosine from above 0.999 to 0.993. A few weights
    /// moved far cost more than every weight losing a little resolution.</remarks>
    public static (float[] Scales, int Widened) ChooseScales(ReadOnlySpan<float> data, PairIndex pairs, bool perChannel)
    {
        int groups = perChannel ? pairs.Channels : 1;
        var maxAbs = new double[groups];
        var maxPair = new double[groups];
        for (int p = 0; p < pairs.Count; p++)
        {
            int g = perChannel ? pairs.Channel[p] : 0;
            double a = Value(data, pairs.A[p]), b = Value(data, pairs.B[p]);
            maxAbs[g] = Math.Max(maxAbs[g], Math.Max(Math.Abs(a), Math.Abs(b)));
            maxPair[g] = Math.Max(maxPair[g], SameSignSum(a, b));
        }
        var scales = new float[groups];
        int widened = 0;
        for (int g = 0; g < groups; g++)
        {
            float full = QuantParamsCalculator.FromRange(-maxAbs[g], maxAbs[g], QuantType.Int8, symmetric: true).Scale;
            float wide = QuantParamsCalculator.FromRange(-maxPair[g], maxPair[g], QuantType.Int8, symmetric: true).Scale;
            scales[g] = Math.Max(full, wide);
            if (wide > full) widened++;
        }
        return (scales, widened);
    }

    /// <summary>Pulls back every same-signed pair of <paramref name="q"/> (int8 weights quantized from
    /// <paramref name="data"/> with the given scales, symmetric) whose sum exceeds the safe sum.</summary>
    public static int ClipPairs(ReadOnlySpan<float> data, Span<sbyte> q, PairIndex pairs, ReadOnlySpan<float> scales)
    {
        int clipped = 0;
        for (int p = 0; p < pairs.Count; p++)
        {
            long ia = pairs.A[p], ib = pairs.B[p];
            int qb0 = ib < 0 ? 0 : q[(int)ib];
            if (Math.Abs(q[(int)ia] + qb0) <= MaxSafePairSum || (q[(int)ia] > 0) != (qb0 > 0)) continue;
            float s = scales.Length == 1 ? scales[0] : scales[pairs.Channel[p]];
            var (qa, qb) = SafePair(Value(data, ia) / s, ib < 0 ? 0 : Value(data, ib) / s);
            q[(int)ia] = (sbyte)qa;
            if (ib >= 0) q[(int)ib] = (sbyte)qb;
            clipped++;
        }
        return clipped;
    }

    /// <summary>The integer pair nearest to (va, vb) in [-127, 127] whose same-signed sum is at most the
    /// safe sum: rounded as QuantizeLinear rounds, and where the sum is over, both moved back by half the
    /// excess (the least squared error), keeping the sum at exactly the safe sum.</summary>
    internal static (int A, int B) SafePair(double va, double vb)
    {
        int qa = (int)Math.Clamp(Math.Round(va, MidpointRounding.ToEven), -127, 127);
        int qb = (int)Math.Clamp(Math.Round(vb, MidpointRounding.ToEven), -127, 127);
        int sum = qa + qb;
        if (Math.Abs(sum) <= MaxSafePairSum || (qa > 0) != (qb > 0)) return (qa, qb);
        int sign = Math.Sign(sum);
        double excess = Math.Abs(va + vb) - MaxSafePairSum;
        int na = (int)Math.Clamp(Math.Round(Math.Abs(va) - excess / 2, MidpointRounding.ToEven), 1, 127);
        int nb = Math.Clamp(MaxSafePairSum - na, 1, 127);
        na = MaxSafePairSum - nb;
        return (sign * na, sign * nb);
    }

    private static double SameSignSum(double a, double b) =>
        Math.Max(Math.Max(a, 0) + Math.Max(b, 0), -(Math.Min(a, 0) + Math.Min(b, 0)));

    private static double Value(ReadOnlySpan<float> data, long i)
    {
        if (i < 0) return 0;
        float v = data[(int)i];
        return float.IsNaN(v) ? 0 : v;
    }

    /// <summary>Every pair of elements the kernel multiplies side by side, per output column, as indices
    /// into the data (B = -1 where an odd column ends on the kernel's zero padding), with its channel.
    /// Built once per weight and shared by the scale choice and the check after quantizing.</summary>
    public sealed class PairIndex
    {
        private PairIndex(long[] a, long[] b, int[] channel, int channels) => (A, B, Channel, Channels) = (a, b, channel, channels);

        internal long[] A { get; }
        internal long[] B { get; }
        internal int[] Channel { get; }
        internal int Channels { get; }
        internal int Count => A.Length;

        /// <summary>The pairs of a tensor of <paramref name="length"/> elements and shape <paramref name="dims"/>.</summary>
        public static PairIndex Build(ReadOnlySpan<long> dims, ReductionLayout layout, int length)
        {
            int rank = dims.Length;
            if (layout.OutputAxis < 0 || layout.OutputAxis >= rank) throw new ArgumentOutOfRangeException(nameof(layout), "Output axis out of range.");
            var strides = new long[rank];
            long size = 1;
            for (int d = rank - 1; d >= 0; d--) { strides[d] = size; size *= dims[d]; }
            if (size != length) throw new ArgumentException($"Data has {length} elements; the dimensions give {size}.", nameof(length));

            var reduced = layout.ReductionAxes;
            var outer = Enumerable.Range(0, rank).Where(d => !reduced.Contains(d)).ToArray();
            long columns = 1, k = 1;
            foreach (int d in outer) columns *= dims[d];
            foreach (int d in reduced) k *= dims[d];
            long perColumn = (k + 1) / 2;
            long count = size == 0 ? 0 : columns * perColumn;
            var a = new long[count];
            var b = new long[count];
            var channel = new int[count];

            // Offsets of the reduction positions in the kernel's order, shared by every column.
            var inner = new long[k];
            for (long i = 0; i < k; i++)
            {
                long rem = i, off = 0;
                for (int j = reduced.Length - 1; j >= 0; j--)
                {
                    int d = reduced[j];
                    off += rem % dims[d] * strides[d];
                    rem /= dims[d];
                }
                inner[i] = off;
            }
            long p = 0;
            for (long col = 0; col < columns && count > 0; col++)
            {
                long rem = col, baseOffset = 0;
                int ch = 0;
                for (int j = outer.Length - 1; j >= 0; j--)
                {
                    int d = outer[j];
                    long idx = rem % dims[d];
                    rem /= dims[d];
                    baseOffset += idx * strides[d];
                    if (d == layout.OutputAxis) ch = (int)idx;
                }
                for (long i = 0; i < k; i += 2, p++)
                {
                    a[p] = baseOffset + inner[i];
                    b[p] = i + 1 < k ? baseOffset + inner[i + 1] : -1;
                    channel[p] = ch;
                }
            }
            return new PairIndex(a, b, channel, (int)dims[layout.OutputAxis]);
        }
    }
}
