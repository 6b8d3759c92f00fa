using EvoQuant.Numerics;

namespace EvoQuant.Evaluation;

/// <summary>
/// What storing an activation in 8-bit logarithmic codes would cost, beside the linear quantization it has: no
/// ONNX operator runs log-quantized activations, so the per-tensor evaluation round-trips the reference values
/// through <see cref="LogLevels"/> with the same largest magnitude as the tensor's linear range. The steps per
/// octave are the best of <see cref="LogQuantizer.StepChoices"/> on the first batch, then fixed.
/// </summary>
internal sealed class LogQuantizationCost(double min, double max, int bits = 8)
{
    private readonly float _scale = (float)Math.Max(Math.Abs(min), Math.Abs(max));
    private readonly ErrorAccumulator _error = new();
    private LogLevels? _levels;
    private float[] _buffer = [];

    public void Add(ReadOnlySpan<float> reference)
    {
        if (!(_scale > 0) || reference.IsEmpty) return;
        if (_buffer.Length < reference.Length) _buffer = new float[reference.Length];
        var y = _buffer.AsSpan(0, reference.Length);
        _levels ??= Best(reference, y);
        _levels.RoundTrip(reference, y);
        _error.Add(reference, y);
    }

    /// <summary>SQNR (dB) of the log round trip, or null when nothing was added.</summary>
    public double? Sqnr => _error.Count > 0 ? _error.Summary.Sqnr : null;

    private LogLevels Best(ReadOnlySpan<float> reference, Span<float> y)
    {
        LogLevels? best = null;
        double bestNoise = double.PositiveInfinity;
        foreach (int f in LogQuantizer.StepChoices)
        {
            var levels = new LogLevels(_scale, bits, f);
            levels.RoundTrip(reference, y);
            double noise = 0;
            for (int i = 0; i < reference.Length; i++) noise += ((double)reference[i] - y[i]) * ((double)reference[i] - y[i]);
            if (noise < bestNoise) (best, bestNoise) = (levels, noise);
        }
        return best!;
    }
}
