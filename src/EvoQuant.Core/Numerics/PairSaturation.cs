namespace EvoQuant.Numerics;

/// <summary>
/// Weights that cannot saturate x86's vpmaddubsw. Without VNNI, ONNX Runtime's u8 x s8 kernels multiply
/// each activation byte (0..255) by a weight byte and add adjacent pairs of products into a saturating
/// 16-bit sum. A pair overflows only when both weights have the same sign and |q0| + |q1| > 128
/// (255 x 129 > 32767). reduce_range avoids that by giving every weight 7 bits; a pair-safe scale
/// gives up only what the largest same-signed pair needs: with s = S / 127, where S is the largest
/// same-signed pair sum of the float weights, every |q| &lt;= 127 and every pair sums to at most 128
/// (each rounding adds at most half a step). Where the largest weight's neighbours are small or of the
/// other sign, that is almost the full 8 bits.
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
        var result = new double[dims[layout.OutputAxis]];
        ForEachPair(data, dims, layout, (int channel, double a, double b) =>
        {
            double pos = Math.Max(a, 0) + Math.Max(b, 0), neg = Math.Min(a, 0) + Math.Min(b, 0);
            double m = Math.Max(pos, -neg);
            if (m > result[channel]) result[channel] = m;
        });
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

    private delegate void PairVisitor(int channel, double a, double b);

    /// <summary>Visits every pair (a, b) of elements that the kernel multiplies side by side, per output
    /// column; an odd column ends with (last, 0), as the kernels pad K with zeros.</summary>
    private static void ForEachPair(ReadOnlySpan<float> data, ReadOnlySpan<long> dims, ReductionLayout layout, PairVisitor visit)
    {
        int rank = dims.Length;
        if (layout.OutputAxis < 0 || layout.OutputAxis >= rank) throw new ArgumentOutOfRangeException(nameof(layout), "Output axis out of range.");
        var strides = new long[rank];
        long s = 1;
        for (int d = rank - 1; d >= 0; d--) { strides[d] = s; s *= dims[d]; }
        if (s != data.Length) throw new ArgumentException($"Data has {data.Length} elements; the dimensions give {s}.", nameof(data));
        if (s == 0) return;

        var reduced = layout.ReductionAxes;
        var outer = Enumerable.Range(0, rank).Where(d => !reduced.Contains(d)).ToArray();
        long columns = 1, length = 1;
        foreach (int d in outer) columns *= dims[d];
        foreach (int d in reduced) length *= dims[d];

        var idx = new long[rank];
        for (long col = 0; col < columns; col++)
        {
            // The column's base offset and its output channel.
            long rem = col, baseOffset = 0;
            for (int i = outer.Length - 1; i >= 0; i--)
            {
                int d = outer[i];
                idx[d] = rem % dims[d];
                rem /= dims[d];
                baseOffset += idx[d] * strides[d];
            }
            int channel = (int)idx[layout.OutputAxis];
            for (long k = 0; k < length; k += 2)
            {
                double a = data[(int)(baseOffset + Offset(k, dims, reduced, strides))];
                double b = k + 1 < length ? data[(int)(baseOffset + Offset(k + 1, dims, reduced, strides))] : 0;
                if (double.IsNaN(a)) a = 0;
                if (double.IsNaN(b)) b = 0;
                visit(channel, a, b);
            }
        }
    }

    private static long Offset(long k, ReadOnlySpan<long> dims, int[] reduced, long[] strides)
    {
        long offset = 0;
        for (int i = reduced.Length - 1; i >= 0; i--)
        {
            int d = reduced[i];
            offset += k % dims[d] * strides[d];
            k /= dims[d];
        }
        return offset;
    }
}
