namespace EvoQuant.Numerics;

/// <summary>
/// Weight scales by alternating minimisation of ||W - s (Q - z)||^2 (the "ADMM" search of our design notes):
/// with s fixed, Q is W rounded and clipped; with Q fixed, the best s has a closed form,
/// s = &lt;W, Q - z&gt; / &lt;Q - z, Q - z&gt;. Each half-step can only lower the error, so starting from the
/// max-abs scale the result is never worse than it; the zero point stays as chosen. Stops when the error
/// no longer falls (a fixed point) or after <see cref="MaxIterations"/>.
/// </summary>
public static class AdmmScale
{
    public const int MaxIterations = 64;

    /// <summary>Refines each channel's scale (<paramref name="axis"/> null: one scale for the tensor).</summary>
    /// <param name="qmin">Smallest code the parameters were chosen for (reduced or symmetric ranges included).</param>
    public static QuantParams[] Refine(ReadOnlySpan<float> data, ReadOnlySpan<long> dims, int? axis, QuantParams[] ps, int qmin, int qmax)
    {
        var result = (QuantParams[])ps.Clone();
        if (axis is not int a)
        {
            result[0] = RefineOne(data, ps[0], qmin, qmax);
            return result;
        }
        long inner = 1;
        for (int d = a + 1; d < dims.Length; d++) inner *= dims[d];
        int channels = (int)dims[a];
        long outer = data.Length / (channels * inner);
        var values = new float[outer * inner];
        for (int c = 0; c < channels; c++)
        {
            // The channel's values, gathered: it is strided when the axis is not the first.
            for (long o = 0; o < outer; o++)
                data.Slice((int)((o * channels + c) * inner), (int)inner).CopyTo(values.AsSpan((int)(o * inner), (int)inner));
            result[c] = RefineOne(values, ps[c], qmin, qmax);
        }
        return result;
    }

    /// <summary>The squared error of storing <paramref name="data"/> with <paramref name="p"/>, round to nearest.</summary>
    public static double SquaredError(ReadOnlySpan<float> data, QuantParams p, int qmin, int qmax)
    {
        double sum = 0;
        foreach (var x in data)
        {
            double e = x - (double)p.Scale * (Code(x, p.Scale, p.ZeroPoint, qmin, qmax) - p.ZeroPoint);
            sum += e * e;
        }
        return sum;
    }

    private static QuantParams RefineOne(ReadOnlySpan<float> data, QuantParams start, int qmin, int qmax)
    {
        if (start.Scale <= 0 || !float.IsFinite(start.Scale) || data.IsEmpty) return start;
        var best = start;
        double bestError = SquaredError(data, start, qmin, qmax);
        double scale = start.Scale;
        for (int it = 0; it < MaxIterations; it++)
        {
            // Q step: codes for the current scale; s step: least-squares scale for those codes.
            double wq = 0, qq = 0;
            foreach (var x in data)
            {
                double q = Code(x, (float)scale, start.ZeroPoint, qmin, qmax) - start.ZeroPoint;
                wq += x * q;
                qq += q * q;
            }
            if (qq == 0 || wq <= 0) break;
            float next = (float)(wq / qq);
            if (!float.IsFinite(next) || next <= 0 || next == (float)scale) break;
            var candidate = start with { Scale = next };
            double error = SquaredError(data, candidate, qmin, qmax);
            if (error >= bestError) break;
            best = candidate; bestError = error; scale = next;
        }
        return best;
    }

    private static int Code(float x, float scale, int zeroPoint, int qmin, int qmax) =>
        (int)Math.Clamp(Math.Round((double)(x / scale), MidpointRounding.ToEven) + zeroPoint, qmin, qmax);
}
