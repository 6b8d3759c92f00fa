namespace EvoQuant.Numerics;

/// <summary>
/// Logarithmic quantization: a value is stored as a sign and an integer exponent below the scale.
/// A code c of <c>bits</c> bits is signed; its magnitude m = |c| is 0 for zero (exact) or 1..M, M = 2^(bits-1) - 1,
/// and decodes to sign(c) * scale * 2^((1 - m) / f), f the steps per octave (a power of two, 1 = plain
/// powers of two). With f = 1 the levels are scale, scale/2, ... (7 octaves for 4 bits); integer log2 steps
/// are coarse (up to a third of a value lost), so 8-bit codes, which have 127 levels, spend them on finer
/// steps (f = 16: 8 octaves, 4% apart). <see cref="BestStepsPerOctave"/> picks f for a tensor.
/// A value rounds to the nearer level in the linear domain (the smaller error, not the nearer exponent); a value
/// below half the smallest level becomes zero; above the scale, it clips to the scale.
/// </summary>
public static class LogQuantizer
{
    /// <summary>The steps per octave <see cref="BestStepsPerOctave"/> tries.</summary>
    public static readonly int[] StepChoices = { 1, 2, 4, 8, 16, 32 };

    /// <summary>The largest code magnitude: 7 for 4 bits, 127 for 8 bits.</summary>
    public static int MaxMagnitude(int bits) => bits is >= 2 and <= 8
        ? (1 << (bits - 1)) - 1
        : throw new ArgumentOutOfRangeException(nameof(bits), bits, "Log codes have 2 to 8 bits.");

    /// <summary>The code of <paramref name="x"/> (scalar reference).</summary>
    public static int Encode(float x, float scale, int bits, int stepsPerOctave = 1)
    {
        int top = MaxMagnitude(bits);
        CheckSteps(stepsPerOctave);
        if (!(scale > 0) || float.IsNaN(x) || x == 0) return 0;
        double r = Math.Abs((double)x) / scale;
        int sign = x < 0 ? -1 : 1;
        if (r >= 1) return sign;
        // r in (L(k+1), L(k)], L(j) = 2^(-j/f): the neighbouring levels have m = k+1 and m = k+2.
        int k = (int)Math.Floor(-Math.Log2(r) * stepsPerOctave);
        if (Level(k, stepsPerOctave) < r) k--;                 // Log2 rounding at exact levels
        if (Level(k + 1, stepsPerOctave) >= r) k++;
        int m = r >= 0.5 * (Level(k, stepsPerOctave) + Level(k + 1, stepsPerOctave)) ? k + 1 : k + 2;
        if (m > top)
        {
            // Below the smallest level: that level or zero, whichever is nearer.
            return r >= 0.5 * Level(top - 1, stepsPerOctave) ? sign * top : 0;
        }
        return sign * m;
    }

    /// <summary>The value of a code.</summary>
    public static float Decode(int code, float scale, int stepsPerOctave = 1) =>
        code == 0 ? 0f : Math.Sign(code) * scale * (float)Level(Math.Abs(code) - 1, stepsPerOctave);

    /// <summary>Codes of a tensor, one scale per slice along <paramref name="axis"/> (null: one scale), each
    /// scale the slice's largest magnitude.</summary>
    public static (sbyte[] Codes, float[] Scales) Encode(ReadOnlySpan<float> data, ReadOnlySpan<long> dims, int? axis, int bits, int stepsPerOctave = 1)
    {
        var (inner, channels) = Layout(dims, axis);
        var scales = MaxAbs(data, inner, channels);
        var codes = new sbyte[data.Length];
        for (int i = 0; i < data.Length; i++)
            codes[i] = (sbyte)Encode(data[i], scales[ChannelOf(i, inner, channels)], bits, stepsPerOctave);
        return (codes, scales);
    }

    /// <summary>The steps per octave (of <see cref="StepChoices"/>) that give the tensor the smallest squared
    /// error with max-abs scales: few steps reach far below the scale, many steps are fine near it.</summary>
    public static int BestStepsPerOctave(ReadOnlySpan<float> data, ReadOnlySpan<long> dims, int? axis, int bits)
    {
        var (inner, channels) = Layout(dims, axis);
        var scales = MaxAbs(data, inner, channels);
        int best = 1;
        double bestError = double.PositiveInfinity;
        foreach (int f in StepChoices)
        {
            double error = 0;
            for (int i = 0; i < data.Length && error < bestError; i++)
            {
                if (!float.IsFinite(data[i])) continue;
                float s = scales[ChannelOf(i, inner, channels)];
                double e = data[i] - Decode(Encode(data[i], s, bits, f), s, f);
                error += e * e;
            }
            if (error < bestError) (best, bestError) = (f, error);
        }
        return best;
    }

    /// <summary>Quantizes and dequantizes <paramref name="x"/> with one scale (what log quantization of an
    /// activation would cost, for the per-tensor evaluation).</summary>
    public static void RoundTrip(ReadOnlySpan<float> x, Span<float> y, float scale, int bits, int stepsPerOctave = 1)
    {
        if (y.Length < x.Length) throw new ArgumentException("The output is shorter than the input.", nameof(y));
        for (int i = 0; i < x.Length; i++) y[i] = Decode(Encode(x[i], scale, bits, stepsPerOctave), scale, stepsPerOctave);
    }

    private static double Level(int j, int stepsPerOctave) => Math.Pow(2, -(double)j / stepsPerOctave);

    private static void CheckSteps(int f)
    {
        if (f < 1 || f > 64 || (f & (f - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(f), f, "Steps per octave are a power of two from 1 to 64.");
    }

    private static (long Inner, int Channels) Layout(ReadOnlySpan<long> dims, int? axis)
    {
        if (axis is not int a) return (1, 1);
        long inner = 1;
        for (int d = a + 1; d < dims.Length; d++) inner *= dims[d];
        return (inner, (int)dims[a]);
    }

    private static int ChannelOf(long i, long inner, int channels) => channels == 1 ? 0 : (int)(i / inner % channels);

    private static float[] MaxAbs(ReadOnlySpan<float> data, long inner, int channels)
    {
        var scales = new float[channels];
        for (int i = 0; i < data.Length; i++)
            if (float.IsFinite(data[i])) scales[ChannelOf(i, inner, channels)] = Math.Max(scales[ChannelOf(i, inner, channels)], Math.Abs(data[i]));
        return scales;
    }
}
