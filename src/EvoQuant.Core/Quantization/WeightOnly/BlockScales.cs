namespace EvoQuant.Quantization.WeightOnly;

/// <summary>The one place a block's scale and zero point are chosen from its values and a value becomes a
/// code: round-to-nearest, GPTQ and the other methods all call it, so with no error feedback they give the
/// same codes. Codes are unsigned (0..MaxCode) and value = (code - zeroPoint) * scale.</summary>
/// <remarks>Asymmetric: the block's range widened to include 0 (so 0 is exact), over all codes.
/// Symmetric: the zero point is the middle code (8 for 4 bits), which leaves 8 codes below it and 7 above;
/// the scale is the smallest that fits both sides, max(-min / 8, max / 7) for 4 bits, so a block whose
/// largest magnitude is negative uses code 0 instead of wasting it. The scale is always positive; a block
/// of zeros gets scale 1 (any scale represents it; 0 would divide by zero).</remarks>
public static class BlockScales
{
    /// <summary>Scale and zero point for a block whose values lie in [<paramref name="min"/>, <paramref name="max"/>]
    /// (NaN ignored by the caller's min/max; the bounds must be finite).</summary>
    public static (float Scale, byte ZeroPoint) Choose(double min, double max, BlockQuantizationSpec spec)
    {
        if (!double.IsFinite(min) || !double.IsFinite(max))
            throw new InvalidWeightException(null, $"holds a non-finite value in a block (range [{min}, {max}])");
        double lo = Math.Min(min, 0), hi = Math.Max(max, 0);
        double scale;
        int zeroPoint;
        if (spec.Symmetric)
        {
            zeroPoint = spec.SymmetricZeroPoint;
            scale = Math.Max(-lo / zeroPoint, hi / (spec.MaxCode - zeroPoint));
        }
        else
        {
            scale = (hi - lo) / spec.MaxCode;
            zeroPoint = scale > 0 ? (int)Math.Clamp(Math.Round(-lo / scale, MidpointRounding.ToEven), 0, spec.MaxCode) : 0;
        }
        float stored = (float)scale;
        if (!(stored > 0) || !float.IsFinite(stored)) stored = scale > 0 ? float.MaxValue : 1f; // zeros; or a range beyond float
        return (stored, (byte)zeroPoint);
    }

    /// <summary>Scale and zero point of a block of values (NaN is refused: a weight must be finite).</summary>
    public static (float Scale, byte ZeroPoint) Choose(ReadOnlySpan<float> block, BlockQuantizationSpec spec)
    {
        double min = 0, max = 0;
        foreach (float v in block)
        {
            if (float.IsNaN(v)) return Choose(double.NaN, double.NaN, spec);
            if (v < min) min = v;
            if (v > max) max = v;
        }
        return Choose(min, max, spec);
    }

    /// <summary>The code of a value: round half to even of value / scale, plus the zero point, clamped to 0..maxCode.
    /// In double so that methods holding error-updated weights in double and those reading float weights agree.</summary>
    public static byte Code(double value, float scale, int zeroPoint, int maxCode)
    {
        double q = Math.Round(value / scale, MidpointRounding.ToEven) + zeroPoint;
        return (byte)Math.Clamp(q, 0, maxCode);
    }

    /// <summary>The value a code stands for.</summary>
    public static double Value(byte code, float scale, int zeroPoint) => (code - zeroPoint) * (double)scale;
}
