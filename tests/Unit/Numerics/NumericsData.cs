using Xunit;

namespace EvoQuant.Tests.Numerics;

/// <summary>Deterministic test inputs: random values, exact .5 ties, near-ties, out-of-range values and specials.</summary>
internal static class NumericsData
{
    /// <summary>0 .. 4 x the widest vector (16 floats) + 1, then odd and large sizes.</summary>
    public static IEnumerable<int> Lengths() =>
        Enumerable.Range(0, 4 * 16 + 2).Concat(new[] { 127, 128, 129, 255, 1000, 1023, 4095, 4097, 65537 });

    public static TheoryData<int> LengthData()
    {
        var d = new TheoryData<int>();
        foreach (int n in Lengths()) d.Add(n);
        return d;
    }

    /// <summary>Values whose x / scale hits exact ties, near ties, the saturation limits and beyond, and
    /// the specials (NaN, ±inf, -0, denormals) at random positions, including the first and last.</summary>
    public static float[] QuantInputs(int n, float scale, int seed, int qmin = -32768, int qmax = 65535)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            int k = rng.Next(qmin - 20, qmax + 20);
            x[i] = rng.Next(8) switch
            {
                0 => (k + 0.5f) * scale,                              // exact tie when scale is a power of two
                1 => MathF.BitIncrement((k + 0.5f) * scale),
                2 => MathF.BitDecrement((k + 0.5f) * scale),
                3 => k * scale,
                4 => (float)((rng.NextDouble() * 2 - 1) * 1e6),         // far out of range
                5 => Special(rng),
                _ => (float)(k + rng.NextDouble()) * scale,
            };
        }
        if (n > 0) x[0] = Special(rng);
        if (n > 1) x[n - 1] = Special(rng);
        return x;
    }

    public static float Special(Random rng) => rng.Next(8) switch
    {
        0 => float.NaN,
        1 => float.PositiveInfinity,
        2 => float.NegativeInfinity,
        3 => -0f,
        4 => 0f,
        5 => float.Epsilon,
        6 => -float.MaxValue,
        _ => float.MaxValue,
    };

    public static float[] Uniform(int n, int seed, float lo = -10, float hi = 10)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = lo + (float)rng.NextDouble() * (hi - lo);
        return x;
    }
}
