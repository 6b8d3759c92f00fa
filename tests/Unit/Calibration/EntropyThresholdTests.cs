using EvoQuant.Calibration;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>The prefix-sum search against the bin-by-bin one written like the reference tool.</summary>
public class EntropyThresholdTests
{
    public static TheoryData<int, int, int> Cases() => new()
    {
        { 256, 128, 1 }, { 300, 128, 2 }, { 512, 64, 3 }, { 1024, 128, 4 }, { 401, 32, 5 },
        { 3074, 128, 8 }, { 4076, 128, 9 }, { 2066, 127, 10 }, // the sizes 2048-bin calibrations search
    };

    private static long[] Histogram(int bins, int seed)
    {
        // A peaked, sparse histogram with empty bins and a long tail: the hard case for smoothing.
        var r = new Random(seed);
        var h = new long[bins];
        for (int j = 0; j < bins; j++)
        {
            double d = (j - bins / 2.0) / (bins / 16.0);
            h[j] = r.NextDouble() < 0.1 ? 0 : (long)(10_000 * Math.Exp(-d * d / 2) + r.Next(3));
        }
        h[1] += 5;
        h[bins - 2] += 3;
        return h;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fast_search_picks_the_naive_threshold(int bins, int quantized, int seed)
    {
        var h = Histogram(bins, seed);
        var (lo, hi, kls) = EntropyThreshold.FindNaive(h, -1, 2.0 / bins, quantized);
        var (flo, fhi) = EntropyThreshold.Find(h, -1, 2.0 / bins, quantized);
        // Equal, or a candidate whose naive divergence ties the best within the approximation's error.
        if ((flo, fhi) != (lo, hi))
        {
            int zero = bins / 2;
            int i = (int)Math.Round(zero - (flo + 1) / (2.0 / bins));
            Assert.InRange(kls[i - quantized / 2] - kls.Min(), 0, 1e-6);
        }
    }

    [Theory]
    [InlineData(1024, 128, 6, 200)]
    [InlineData(1024, 128, 7, 512)] // the full window only
    public void A_minimum_window_is_honoured_by_both_searches(int bins, int quantized, int seed, int minHalf)
    {
        var h = Histogram(bins, seed);
        var (lo, hi, kls) = EntropyThreshold.FindNaive(h, -1, 2.0 / bins, quantized, minHalf);
        var (flo, fhi) = EntropyThreshold.Find(h, -1, 2.0 / bins, quantized, minHalf);
        double w = 2.0 / bins;
        Assert.True(fhi >= -1 + Math.Min(bins, bins / 2 + minHalf + 1) * w - 1e-12, $"window upper edge {fhi} below the minimum");
        Assert.True(flo <= -1 + (bins / 2 - minHalf) * w + 1e-12, $"window lower edge {flo} above the minimum");
        Assert.True(kls.Take(minHalf - quantized / 2).All(double.IsPositiveInfinity)); // narrower windows not tried
        if ((flo, fhi) != (lo, hi))
        {
            int i = (int)Math.Round(bins / 2 - (flo + 1) / w);
            Assert.InRange(kls[i - quantized / 2] - kls.Where(double.IsFinite).Min(), 0, 1e-6);
        }
    }

    [Fact]
    public void Too_few_bins_give_the_full_range()
    {
        var (lo, hi) = EntropyThreshold.Find(new long[] { 1, 2, 3, 4 }, -2, 1, 128);
        Assert.Equal((-2.0, 2.0), (lo, hi));
    }
}
