namespace EvoQuant.Numerics;

/// <summary>
/// Quantizes Conv/Gemm/MatMul biases to int32 with <c>scale = inputScale * weightScale</c> (per channel
/// when the weight is) and zero point 0, so the integer accumulator can add them directly. Matches the
/// reference tool: the scale product in float32, the division in double, round half to even, clipped
/// to int32 (a clip means the bias scale is too small for that bias: the caller should warn).
/// </summary>
public static class BiasQuantizer
{
    /// <summary>Bias scales: one per weight scale (a single one for a per-tensor weight). A product that
    /// underflows to 0 is returned as 0 (every non-zero bias on that channel then clips).</summary>
    /// <exception cref="ArgumentException">No weight scale, or a negative, NaN or infinite scale.</exception>
    public static float[] Scales(float inputScale, ReadOnlySpan<float> weightScales, float beta = 1f)
    {
        if (weightScales.IsEmpty) throw new ArgumentException("At least one weight scale is needed.", nameof(weightScales));
        var scales = new float[weightScales.Length];
        for (int i = 0; i < scales.Length; i++)
        {
            float s = inputScale * weightScales[i] * beta;   // float32, as numpy float32 arrays multiply
            if (!(s >= 0f) || !float.IsFinite(s))
                throw new ArgumentException($"Bias scale {s} (input {inputScale} x weight {weightScales[i]} x beta {beta}) is not a finite, non-negative number.", nameof(weightScales));
            scales[i] = s;
        }
        return scales;
    }

    /// <summary>Quantized bias values (int32, zero point 0).</summary>
    /// <param name="bias">One value per output channel.</param>
    /// <param name="inputScale">Scale of the activation the weight multiplies.</param>
    /// <param name="weightScales">One scale (per-tensor weight) or one per bias element (per-channel weight).</param>
    /// <param name="clipped">True when at least one value saturated at the int32 limits.</param>
    /// <exception cref="ArgumentException">Scale count is neither 1 nor bias.Length; a bias value is NaN.</exception>
    public static int[] Quantize(ReadOnlySpan<float> bias, float inputScale, ReadOnlySpan<float> weightScales, out bool clipped)
        => Quantize(bias, inputScale, weightScales, 1f, out clipped);

    /// <summary>Quantized bias values (int32, zero point 0) for a bias multiplied by Gemm's beta.</summary>
    /// <param name="bias">One value per output channel.</param>
    /// <param name="inputScale">Scale of the activation the weight multiplies.</param>
    /// <param name="weightScales">One scale (per-tensor weight) or one per bias element (per-channel weight).</param>
    /// <param name="clipped">True when at least one value saturated at the int32 limits.</param>
    /// <param name="beta">Gemm's beta: the bias is multiplied by it, so its scale is too.</param>
    public static int[] Quantize(ReadOnlySpan<float> bias, float inputScale, ReadOnlySpan<float> weightScales, float beta, out bool clipped)
    {
        if (weightScales.Length != 1 && weightScales.Length != bias.Length)
            throw new ArgumentException($"Expected 1 or {bias.Length} weight scales, got {weightScales.Length}.", nameof(weightScales));
        var scales = Scales(inputScale, weightScales, beta);
        var q = new int[bias.Length];
        clipped = false;
        for (int i = 0; i < q.Length; i++)
        {
            if (float.IsNaN(bias[i])) throw new ArgumentException($"Bias element {i} is NaN.", nameof(bias));
            float scale = scales[scales.Length == 1 ? 0 : i];
            // Scale 0 (underflow): 0 stays 0, anything else is ±inf and clips below.
            double v = bias[i] == 0f ? 0.0 : Math.Round(bias[i] / (double)scale, MidpointRounding.ToEven);
            if (v > int.MaxValue) { q[i] = int.MaxValue; clipped = true; }
            else if (v < int.MinValue) { q[i] = int.MinValue; clipped = true; }
            else q[i] = (int)v;
        }
        return q;
    }
}
