namespace EvoQuant.Numerics;

/// <summary>
/// Stochastic (random) rounding of weights: x/s rounds up with probability equal to its fractional part,
/// so the rounding is unbiased on average (E[q] = x/s) where round-to-nearest always errs the same way.
/// Reproducible: the generator is seeded from the user's seed and the tensor's name (a stable hash, not
/// string.GetHashCode, which changes from process to process).
/// </summary>
public sealed class StochasticRounding
{
    private readonly Random _random;

    public StochasticRounding(int seed, string? tensorName)
    {
        uint hash = 2166136261;
        foreach (char c in tensorName ?? "") hash = (hash ^ c) * 16777619;
        _random = new Random(unchecked(seed * 31 + (int)hash));
    }

    /// <summary>The code of <paramref name="x"/>: floor(x/s + u) + z with u uniform in [0, 1), clipped.</summary>
    public int Quantize(float x, float scale, int zeroPoint, int qmin, int qmax)
    {
        double v = (double)(x / scale);
        if (double.IsNaN(v)) return Math.Clamp(zeroPoint, qmin, qmax);
        double r = Math.Floor(v + _random.NextDouble()) + zeroPoint;
        return (int)Math.Clamp(r, qmin, qmax);
    }
}
