using EvoQuant.Calibration;
using Xunit;

namespace EvoQuant.Tests.Calibration;

public class GridHistogramTests
{
    [Fact]
    public void Widening_preserves_every_count_and_matches_direct_binning_at_the_final_width()
    {
        var x = Synthetic.Gaussian(50_000, 1, seed: 4);
        x[49_999] = 200; // a late batch far outside the first range forces several doublings
        var grown = new GridHistogram(absolute: false, binsPerSide: 128);
        foreach (var b in Synthetic.Batches(x, 5000)) grown.Add(b);
        var direct = new GridHistogram(absolute: false, binsPerSide: 128);
        direct.Add(x);
        Assert.Equal(direct.WidthExponent, grown.WidthExponent);
        Assert.Equal(direct.GetCounts(), grown.GetCounts());
        Assert.Equal(x.Length, grown.GetCounts().Sum());
    }

    [Theory]
    [InlineData(false, 100)]     // short batch: direct counting
    [InlineData(false, 50_000)]  // vector counting with partial counters
    [InlineData(true, 50_000)]
    public void NaN_and_infinities_are_counted_apart_and_leave_the_histogram_as_the_finite_values_make_it(bool absolute, int n)
    {
        var x = Synthetic.Gaussian(n, 2, seed: 9);
        var finite = x.ToArray();
        for (int i = 3; i < n; i += 37) x[i] = (i / 37 % 3) switch { 0 => float.NaN, 1 => float.PositiveInfinity, _ => float.NegativeInfinity };
        int bad = x.Count(v => !float.IsFinite(v));
        var withNaN = new GridHistogram(absolute, binsPerSide: 2048);
        var onlyNaN = new GridHistogram(absolute, binsPerSide: 2048);
        foreach (var b in Synthetic.Batches(x, n / 2)) withNaN.Add(b);
        // NaN alone (no infinity) takes the fast path: the min/max pass ignores it and the binning drops it.
        onlyNaN.Add(x.Select(v => float.IsInfinity(v) ? float.NaN : v).ToArray());
        var clean = new GridHistogram(absolute, binsPerSide: 2048);
        clean.Add(x.Where(float.IsFinite).ToArray());
        foreach (var h in new[] { withNaN, onlyNaN })
        {
            Assert.Equal(bad, h.NonFinite);
            Assert.Equal(n - bad, h.Count);
            Assert.Equal(clean.WidthExponent, h.WidthExponent);
            Assert.Equal(clean.GetCounts(), h.GetCounts());
            Assert.Equal(clean.Min, h.Min);
            Assert.Equal(clean.Max, h.Max);
        }
        Assert.NotEqual(finite.Length, clean.Count); // the planted values really were left out
    }

    [Fact]
    public void Zeros_mixed_with_NaN_count_only_the_zeros()
    {
        var h = new GridHistogram(absolute: false, binsPerSide: 64);
        h.Add(new float[] { 0, float.NaN, 0, -0f });
        Assert.Equal(3, h.Count);
        Assert.Equal(1, h.NonFinite);
        h.Add(new float[] { 1, float.NaN });
        Assert.Equal(4, h.Count);
        Assert.Equal(2, h.NonFinite);
        Assert.Equal(3, h.GetCounts()[h.Origin]);
    }

    [Fact]
    public void Width_is_the_smallest_power_of_two_that_holds_the_data()
    {
        var h = new GridHistogram(absolute: false, binsPerSide: 64);
        h.Add(new float[] { -5f, 3f });
        // 5 / 64 = 0.078 -> w = 0.125: 5 < 64 * 0.125 = 8 but not < 64 * 0.0625 = 4.
        Assert.Equal(-3, h.WidthExponent);
        var c = h.GetCounts();
        Assert.Equal(1, c[64 - 40]); // -5 / 0.125 = -40
        Assert.Equal(1, c[64 + 24]); // 3 / 0.125 = 24
    }

    [Fact]
    public void Zeros_before_any_other_value_land_in_the_bin_at_zero()
    {
        var h = new GridHistogram(absolute: true, binsPerSide: 16);
        h.Add(new float[] { 0, 0, 0 });
        Assert.Null(h.WidthExponent);
        h.Add(new float[] { 1 });
        Assert.Equal(new long[] { 3 }, h.GetCounts()[..1]);
        Assert.Equal(4, h.GetCounts().Sum());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Merging_halves_equals_the_whole_stream_exactly(bool absolute)
    {
        // Two halves of very different spread: their widths differ before the merge.
        var x = Synthetic.Gaussian(30_000, 0.01, seed: 5).Concat(Synthetic.Gaussian(30_000, 40, seed: 6)).ToArray();
        var whole = new GridHistogram(absolute, 512);
        var a = new GridHistogram(absolute, 512);
        var b = new GridHistogram(absolute, 512);
        int k = 0;
        foreach (var batch in Synthetic.Batches(x, 3000))
        {
            whole.Add(batch);
            (k++ < 10 ? a : b).Add(batch);
        }
        Assert.NotEqual(a.WidthExponent, b.WidthExponent);
        a.Merge(b);
        Assert.Equal(whole.WidthExponent, a.WidthExponent);
        Assert.Equal(whole.GetCounts(), a.GetCounts());
        Assert.Equal((whole.Min, whole.Max, whole.Count), (a.Min, a.Max, a.Count));

        // Merging in the other order gives the same histogram.
        var a2 = new GridHistogram(absolute, 512);
        var b2 = new GridHistogram(absolute, 512);
        k = 0;
        foreach (var batch in Synthetic.Batches(x, 3000)) (k++ < 10 ? a2 : b2).Add(batch);
        b2.Merge(a2);
        Assert.Equal(whole.GetCounts(), b2.GetCounts());
    }

    [Fact]
    public void Stored_form_round_trips()
    {
        var h = new GridHistogram(absolute: false, binsPerSide: 256);
        h.Add(Synthetic.Gaussian(10_000, 3, seed: 7));
        var back = GridHistogram.FromData(h.ToData(), h.Min, h.Max, h.Count, h.NonFinite, h.BatchCount);
        Assert.Equal(h.GetCounts(), back.GetCounts());
        Assert.Equal(h.WidthExponent, back.WidthExponent);
    }
}
