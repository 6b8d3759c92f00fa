namespace EvoQuant.Numerics;

/// <summary>
/// Scale and zero point from a float range, bit for bit as ONNX Runtime's quantization tool
/// (<c>quant_utils.compute_scale_zp</c>) computes them for float32 data.
/// </summary>
public static class QuantParamsCalculator
{
    /// <summary>Smallest normal float32 (numpy's finfo(float32).tiny).</summary>
    private const double FloatTiny = 1.17549435e-38;

    /// <summary>
    /// Parameters mapping [<paramref name="rmin"/>, <paramref name="rmax"/>] onto the type's range.
    /// The range is first widened to include 0 (so 0 is exact); symmetric makes it ±max(|rmin|,|rmax|)
    /// and puts the zero point in the middle of the quantized range; a scale below float's smallest normal
    /// becomes scale 1, zero point 0.
    /// </summary>
    /// <remarks>The bounds are rounded to float32 first and subtracted in float32, as the reference tool
    /// does on float32 data; the scale and zero point are then computed in double.</remarks>
    /// <exception cref="ArgumentException">A bound is NaN or infinite.</exception>
    public static QuantParams FromRange(double rmin, double rmax, QuantType type, bool symmetric, bool reduceRange = false)
    {
        if (!double.IsFinite(rmin)) throw new ArgumentException($"rmin must be finite, got {rmin}.", nameof(rmin));
        if (!double.IsFinite(rmax)) throw new ArgumentException($"rmax must be finite, got {rmax}.", nameof(rmax));
        if (rmin > rmax) throw new ArgumentException($"rmin ({rmin}) is greater than rmax ({rmax}).", nameof(rmin));

        int qmin = type.QMin(reduceRange, symmetric);
        int qmax = type.QMax(reduceRange, symmetric);

        // Include zero so that it is exactly representable (padding, ReLU outputs).
        float lo = MathF.Min((float)rmin, 0f);
        float hi = MathF.Max((float)rmax, 0f);
        if (symmetric)
        {
            float absMax = MathF.Max(MathF.Abs(lo), MathF.Abs(hi));
            lo = -absMax;
            hi = absMax;
        }

        // float32 subtraction, then double division: the reference's numpy dtypes.
        double scale = (double)(hi - lo) / ((double)qmax - qmin);
        if (scale < FloatTiny)
            return new QuantParams(1f, 0, type);

        double zp = symmetric
            ? Math.Round((qmin + (double)qmax) / 2.0, MidpointRounding.ToEven)
            : Math.Round(qmin - lo / scale, MidpointRounding.ToEven);
        int zeroPoint = (int)Math.Clamp(zp, qmin, qmax);
        return new QuantParams((float)scale, zeroPoint, type);
    }

    /// <summary>
    /// One <see cref="QuantParams"/> per slice along <paramref name="axis"/> (per-channel weights):
    /// the min and max of each channel (NaN ignored), then <see cref="FromRange"/>.
    /// </summary>
    /// <param name="data">Row-major tensor data.</param>
    /// <param name="shape">Its dimensions; their product must equal data.Length.</param>
    /// <param name="axis">Channel axis; negative counts from the end.</param>
    /// <param name="type">Target integer type.</param>
    /// <param name="symmetric">Symmetric range (weights) or asymmetric (activations).</param>
    /// <param name="reduceRange">7-bit ranges for CPUs without VNNI.</param>
    public static QuantParams[] PerAxis(ReadOnlySpan<float> data, ReadOnlySpan<long> shape, int axis, QuantType type, bool symmetric, bool reduceRange = false)
    {
        var (outer, channels, inner) = AxisLayout.Split(shape, axis, data.Length);
        var result = new QuantParams[channels];
        for (int c = 0; c < channels; c++)
        {
            float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
            for (long o = 0; o < outer; o++)
            {
                if (inner == 0) break;
                var slice = data.Slice((int)((o * channels + c) * inner), (int)inner);
                var (mn, mx) = Kernels.MinMax(slice);
                if (mn < lo) lo = mn;
                if (mx > hi) hi = mx;
            }
            // Empty or all-NaN channel: nothing to represent but 0.
            if (float.IsInfinity(lo) && lo > 0) { lo = 0; hi = 0; }
            result[c] = FromRange(lo, hi, type, symmetric, reduceRange);
        }
        return result;
    }
}
