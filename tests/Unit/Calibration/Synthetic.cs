namespace EvoQuant.Tests.Calibration;

/// <summary>Seeded synthetic data for the calibrator tests.</summary>
internal static class Synthetic
{
    public static float[] Uniform(int n, float lo, float hi, int seed)
    {
        var r = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = lo + (float)r.NextDouble() * (hi - lo);
        return x;
    }

    public static float[] Gaussian(int n, double sigma, int seed)
    {
        var r = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u1 = 1 - r.NextDouble(), u2 = r.NextDouble();
            x[i] = (float)(sigma * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return x;
    }

    /// <summary>Gaussian(0, 1) with a few far outliers at ±<paramref name="at"/>.</summary>
    public static float[] GaussianWithOutliers(int n, int outliers, float at, int seed)
    {
        var x = Gaussian(n, 1, seed);
        for (int k = 0; k < outliers; k++) x[(k * 7919) % n] = k % 2 == 0 ? at : -at;
        return x;
    }

    public static IEnumerable<float[]> Batches(float[] x, int size)
    {
        for (int at = 0; at < x.Length; at += size) yield return x[at..Math.Min(x.Length, at + size)];
    }
}
