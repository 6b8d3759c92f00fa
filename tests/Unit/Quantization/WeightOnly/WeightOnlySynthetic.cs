using EvoQuant.Quantization.WeightOnly;

namespace EvoQuant.Tests.Quantization.WeightOnly;

/// <summary>Seeded data for the weight-only method tests: correlated MatMul inputs (a few latent factors
/// mixed into K channels, a few channels much larger, plus noise) and Gaussian weights, as real layers have.</summary>
internal static class WeightOnlySynthetic
{
    public static float[] Gaussian(int count, double sigma, Random r)
    {
        var x = new float[count];
        for (int i = 0; i < count; i++)
        {
            double u1 = 1 - r.NextDouble(), u2 = r.NextDouble();
            x[i] = (float)(sigma * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return x;
    }

    /// <summary>[rows, k] inputs: <paramref name="latent"/> Gaussian factors mixed by a fixed random matrix,
    /// channel scales from 0.2 to 5, plus 5% independent noise.</summary>
    public static float[] CorrelatedInputs(int rows, int k, int latent, int seed)
    {
        var r = new Random(seed);
        var mix = Gaussian(latent * k, 1.0 / Math.Sqrt(latent), r);
        var scale = Enumerable.Range(0, k).Select(_ => 0.2 + 4.8 * Math.Pow(r.NextDouble(), 4)).ToArray();
        var z = Gaussian(rows * latent, 1, r);
        var noise = Gaussian(rows * k, 0.05, r);
        var x = new float[rows * k];
        for (int row = 0; row < rows; row++)
            for (int c = 0; c < k; c++)
            {
                double v = noise[row * k + c];
                for (int l = 0; l < latent; l++) v += z[row * latent + l] * mix[l * k + c];
                x[row * k + c] = (float)(v * scale[c]);
            }
        return x;
    }

    public static float[] Weights(int k, int n, int seed) => Gaussian(k * n, 1 / Math.Sqrt(k), new Random(seed));

    public static InputStatistics Statistics(float[] x, int k)
    {
        var s = new InputStatistics(k);
        s.Accumulate(x, x.Length / k);
        return s;
    }
}
