namespace EvoQuant.Numerics;

/// <summary>
/// The plain scalar specification of each kernel, written for clarity, not speed. Tests compare every
/// vector path against it; integer results must match exactly.
/// </summary>
internal static class ScalarReference
{
    /// <summary>ONNX QuantizeLinear for one value; NaN -> qmin (ONNX Runtime's behaviour).</summary>
    public static int Quantize(float x, float scale, int zeroPoint, int qmin, int qmax)
    {
        if (float.IsNaN(x)) return qmin;
        float q = x / scale;                                        // divide, as ONNX and ORT do
        double r = Math.Round((double)q, MidpointRounding.ToEven) + zeroPoint;
        return (int)Math.Clamp(r, qmin, qmax);                      // ±inf saturate here
    }

    public static void Quantize(ReadOnlySpan<float> x, Span<int> y, float scale, int zeroPoint, int qmin, int qmax)
    {
        for (int i = 0; i < x.Length; i++) y[i] = Quantize(x[i], scale, zeroPoint, qmin, qmax);
    }

    public static float Dequantize(int q, float scale, int zeroPoint) => (float)unchecked(q - zeroPoint) * scale;

    /// <summary>ONNX 4-bit packing: element 2i low nibble, 2i+1 high nibble, odd tail padded with 0.</summary>
    public static byte[] PackInt4(ReadOnlySpan<int> values)
    {
        var packed = new byte[(values.Length + 1) / 2];
        for (int i = 0; i < values.Length; i++)
            packed[i / 2] |= (byte)((values[i] & 0xF) << (i % 2 == 0 ? 0 : 4));
        return packed;
    }

    public static int UnpackInt4(ReadOnlySpan<byte> packed, int index, bool signed)
    {
        int nibble = (packed[index / 2] >> (index % 2 == 0 ? 0 : 4)) & 0xF;
        return signed && nibble >= 8 ? nibble - 16 : nibble;
    }

    /// <summary>Min and max ignoring NaN; (NaN, NaN) when there is no number.</summary>
    public static (float Min, float Max) MinMax(ReadOnlySpan<float> x)
    {
        float mn = float.NaN, mx = float.NaN;
        foreach (float v in x)
        {
            if (float.IsNaN(v)) continue;
            if (float.IsNaN(mn) || v < mn) mn = v;
            if (float.IsNaN(mx) || v > mx) mx = v;
        }
        return (mn, mx);
    }

    public static long CountNonFinite(ReadOnlySpan<float> x)
    {
        long n = 0;
        foreach (float v in x) if (!float.IsFinite(v)) n++;
        return n;
    }

    public static float MaxAbs(ReadOnlySpan<float> x)
    {
        float mx = float.NaN;
        foreach (float v in x)
            if (!float.IsNaN(v) && (float.IsNaN(mx) || MathF.Abs(v) > mx)) mx = MathF.Abs(v);
        return mx;
    }

    /// <summary>Histogram over [lo, hi) with the float arithmetic documented on Kernels.AccumulateHistogram.</summary>
    public static void Histogram(ReadOnlySpan<float> x, Span<long> counts, float lo, float hi)
    {
        int n = counts.Length;
        float s = (float)(n / ((double)hi - lo));
        foreach (float v in x)
        {
            if (float.IsNaN(v)) continue;
            float t = (v - lo) * s;
            int bin = t < 0 ? 0 : (int)MathF.Min(MathF.Floor(t), n - 1);
            counts[bin]++;
        }
    }

    public static void AbsHistogram(ReadOnlySpan<float> x, Span<long> counts, float hi)
    {
        var abs = new float[x.Length];
        for (int i = 0; i < x.Length; i++) abs[i] = MathF.Abs(x[i]);
        Histogram(abs, counts, 0f, hi);
    }

    public static double Mse(ReadOnlySpan<float> r, ReadOnlySpan<float> c)
    {
        double s = 0;
        for (int i = 0; i < r.Length; i++) { double d = (double)r[i] - c[i]; s += d * d; }
        return s / r.Length;
    }

    public static double MaxAbsError(ReadOnlySpan<float> r, ReadOnlySpan<float> c)
    {
        double m = 0;
        for (int i = 0; i < r.Length; i++) m = Math.Max(m, Math.Abs((double)r[i] - c[i]));
        return m;
    }

    public static double MeanAbsError(ReadOnlySpan<float> r, ReadOnlySpan<float> c)
    {
        double s = 0;
        for (int i = 0; i < r.Length; i++) s += Math.Abs((double)r[i] - c[i]);
        return s / r.Length;
    }

    public static double CosineSimilarity(ReadOnlySpan<float> r, ReadOnlySpan<float> c)
    {
        double dot = 0, rr = 0, cc = 0;
        for (int i = 0; i < r.Length; i++) { dot += (double)r[i] * c[i]; rr += (double)r[i] * r[i]; cc += (double)c[i] * c[i]; }
        if (rr == 0 && cc == 0) return 1;
        if (rr == 0 || cc == 0) return 0;
        return dot / Math.Sqrt(rr * cc);
    }

    public static double Sqnr(ReadOnlySpan<float> r, ReadOnlySpan<float> c)
    {
        double sig = 0, noise = 0;
        for (int i = 0; i < r.Length; i++) { double d = (double)r[i] - c[i]; sig += (double)r[i] * r[i]; noise += d * d; }
        return noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(sig / noise);
    }
}
