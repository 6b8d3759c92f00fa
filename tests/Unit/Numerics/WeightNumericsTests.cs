using EvoQuant.Numerics;
using Xunit;

namespace EvoQuant.Tests.Numerics;

/// <summary>ADMM scale search and stochastic rounding on generated data (the model-level checks are in
/// Quantization/WeightNumericsModelTests).</summary>
public class WeightNumericsTests
{
    private static float[] HeavyTailed(int n, int seed)
    {
        var rng = new Random(seed);
        // Mostly small values and a few large ones: max-abs wastes most codes on the outliers.
        return Enumerable.Range(0, n).Select(i => (float)((rng.NextDouble() - 0.5) * (i % 97 == 0 ? 8 : 1))).ToArray();
    }

    [Theory]
    [InlineData(QuantType.Int8, true)]
    [InlineData(QuantType.UInt8, false)]
    [InlineData(QuantType.Int4, true)]
    public void AdmmNeverRaisesTheError_AndLowersItOnHeavyTails(QuantType type, bool symmetric)
    {
        var data = HeavyTailed(4096, 1);
        int qmin = type.QMin(false, symmetric), qmax = type.QMax(false, symmetric);
        var start = QuantParamsCalculator.FromRange(data.Min(), data.Max(), type, symmetric);
        var refined = AdmmScale.Refine(data, new long[] { data.Length }, null, new[] { start }, qmin, qmax)[0];

        double before = AdmmScale.SquaredError(data, start, qmin, qmax), after = AdmmScale.SquaredError(data, refined, qmin, qmax);
        // A local search from max-abs: a few percent lower at 8 bits, more at 4 bits where each code is coarse.
        Assert.True(after < before * (type.BitWidth() == 4 ? 0.9 : 0.99), $"{type}: {before} -> {after}");
        Assert.True(refined.Scale < start.Scale, "the search clips the outliers");
        Assert.Equal(start.ZeroPoint, refined.ZeroPoint);
        // A fixed point: searching again from the result changes nothing.
        Assert.Equal(refined, AdmmScale.Refine(data, new long[] { data.Length }, null, new[] { refined }, qmin, qmax)[0]);
    }

    [Fact]
    public void AdmmPerChannel_RefinesEachChannelOnItsOwnStridedValues()
    {
        // [4, 3, 5] along axis 1: each channel's values are strided; channel 1 is uniform (max-abs is already
        // near optimal), channels 0 and 2 are heavy-tailed.
        long[] dims = { 4, 3, 5 };
        var data = new float[60];
        var tails = HeavyTailed(60, 2);
        for (int i = 0; i < 60; i++) data[i] = (i / 5 % 3) == 1 ? (i % 5 - 2) * 0.5f : tails[i];
        var ps = QuantParamsCalculator.PerAxis(data, dims, 1, QuantType.Int8, true);
        var refined = AdmmScale.Refine(data, dims, 1, ps, -127, 127);
        for (int c = 0; c < 3; c++)
        {
            var values = Enumerable.Range(0, 60).Where(i => i / 5 % 3 == c).Select(i => data[i]).ToArray();
            Assert.True(AdmmScale.SquaredError(values, refined[c], -127, 127) <= AdmmScale.SquaredError(values, ps[c], -127, 127), $"channel {c}");
            // Each channel refined alone gives the same scale as the per-axis call.
            Assert.Equal(AdmmScale.Refine(values, new long[] { values.Length }, null, new[] { ps[c] }, -127, 127)[0], refined[c]);
        }
    }

    [Fact]
    public void StochasticRounding_IsUnbiased_Reproducible_AndWithinOneCode()
    {
        const float scale = 0.1f, x = 0.137f;          // x/s = 1.37: rounds to 1 or 2
        var a = new StochasticRounding(5, "w");
        var codes = Enumerable.Range(0, 20000).Select(_ => a.Quantize(x, scale, 0, -127, 127)).ToArray();
        Assert.All(codes, q => Assert.InRange(q, 1, 2));
        Assert.InRange(codes.Average(), 1.35, 1.39);      // E[q] = x/s; round-to-nearest would always give 1

        var again = new StochasticRounding(5, "w");
        Assert.Equal(codes.Take(100), Enumerable.Range(0, 100).Select(_ => again.Quantize(x, scale, 0, -127, 127)));
        var other = new StochasticRounding(6, "w");
        Assert.NotEqual(codes.Take(100), Enumerable.Range(0, 100).Select(_ => other.Quantize(x, scale, 0, -127, 127)));
        Assert.Equal(127, a.Quantize(1000f, scale, 0, -127, 127));
        Assert.Equal(3, a.Quantize(float.NaN, scale, 3, -127, 127));
    }
}
