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

    // Every candidate's divergence from the shared inner-block rows against the block-by-block one. Sparse
    // histograms (most bins empty) make eps1Q large enough that the rows hand candidates back to the blocks;
    // counts of 1 to fewPerBin values a bin (0: large counts) make q small, where the expansion's higher
    // terms matter.
    [Theory]
    [InlineData(4096, 128, 11, 0.1, 0)]
    [InlineData(3074, 128, 12, 0.1, 0)]
    [InlineData(8192, 128, 13, 0.1, 0)]
    [InlineData(4096, 128, 14, 0.97, 0)]
    [InlineData(2066, 127, 15, 0.5, 0)]
    [InlineData(1024, 32, 16, 0.3, 0)]
    [InlineData(4096, 128, 17, 0.85, 3)]
    [InlineData(6144, 128, 18, 0.9, 3)]
    [InlineData(3000, 128, 19, 0.6, 3)]
    [InlineData(4096, 128, 20, 0.93, 3)]
    [InlineData(4096, 128, 21, 0.95, 3)]
    [InlineData(2048, 128, 22, 0.96, 3)]
    [InlineData(16384, 128, 23, 0.98, 3)]
    [InlineData(4096, 128, 24, 0.9, 1)] // q = 1 and eps1Q near the expansion's limit: its third-order term shows
    public void Shared_rows_give_each_candidate_the_block_by_block_divergence(int bins, int quantized, int seed, double emptyShare, int fewPerBin)
    {
        var h = Histogram(bins, seed);
        var r = new Random(seed);
        for (int j = 0; j < bins; j++)
        {
            if (fewPerBin > 0) h[j] = r.Next(1, fewPerBin + 1);
            if (r.NextDouble() < emptyShare) h[j] = 0;
        }
        h[bins / 2] += 1;
        long total = h.Sum();
        var search = new EntropyThreshold.Search(h, quantized, total);
        int zero = bins / 2, built = 0, compared = 0;
        int Width(int i) => (Math.Min(zero + i + 1, bins) - (zero - i)) / quantized;
        for (int i = quantized / 2; i <= zero;)
        {
            int m = Width(i), last = i;
            while (last < zero && Width(last + 1) == m) last++;
            bool rows = search.TryBuildRows(m, zero - last, zero - i);
            if (rows) built++;
            for (; i <= last; i++)
            {
                int start = zero - i, end = Math.Min(zero + i + 1, bins);
                double expected = search.Divergence(start, end);
                if (!rows) continue;
                double actual = search.DivergenceByRows(start, end);
                compared++;
                if (double.IsPositiveInfinity(expected)) Assert.True(double.IsPositiveInfinity(actual), $"window {i}: {actual}, expected infinity");
                else Assert.True(Math.Abs(actual - expected) <= 1e-12 * Math.Max(1, Math.Abs(expected)), $"window {i} (m {m}): {actual} vs {expected}");
            }
        }
        Assert.True(built > 0 && compared > 0, "no candidate went through the shared rows");
    }

    // Two million values, Gaussian with 0.1 % far outliers, over 6000 bins: the regime of real 2048-bin calibrations.
    [Fact]
    public void Fast_search_matches_the_naive_one_on_a_long_tailed_histogram()
    {
        var r = new Random(21);
        var h = new long[6000];
        for (int k = 0; k < 2_000_000; k++)
        {
            double x = r.NextDouble() < 0.999 ? NextGaussian(r) * 300 : (r.NextDouble() - 0.5) * 5800;
            int j = Math.Clamp((int)Math.Floor(x) + 3000, 0, 5999);
            h[j]++;
        }
        var (lo, hi, kls) = EntropyThreshold.FindNaive(h, -1, 2.0 / 6000, 128, 188);
        var (flo, fhi) = EntropyThreshold.Find(h, -1, 2.0 / 6000, 128, 188);
        if ((flo, fhi) != (lo, hi))
        {
            int i = (int)Math.Round(3000 - (flo + 1) / (2.0 / 6000));
            Assert.InRange(kls[i - 64] - kls.Where(double.IsFinite).Min(), 0, 1e-9);
        }
    }

    private static double NextGaussian(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    [Fact]
    public void Too_few_bins_give_the_full_range()
    {
        var (lo, hi) = EntropyThreshold.Find(new long[] { 1, 2, 3, 4 }, -2, 1, 128);
        Assert.Equal((-2.0, 2.0), (lo, hi));
    }
}
