using EvoQuant.Calibration;
using Xunit;

namespace EvoQuant.Tests.Calibration;

public class GridHistogramTests
{
    /// <summary>Counts of floor(v / 2^e) over x (|x| when absolute), by bin relative to 0: the reference.</summary>
    private static Dictionary<long, long> Direct(IEnumerable<float> x, int e, bool absolute = false) =>
        x.GroupBy(v => (long)Math.Floor((absolute ? Math.Abs((double)v) : v) * Math.ScaleB(1.0, -e))).ToDictionary(g => g.Key, g => (long)g.Count());

    private static Dictionary<long, long> Bins(GridHistogram h)
    {
        var c = h.GetCounts();
        return Enumerable.Range(0, c.Length).Where(j => c[j] != 0).ToDictionary(j => (long)(j - h.Origin), j => c[j]);
    }

    [Fact]
    public void A_later_batch_that_reaches_further_adds_bins_of_the_first_batchs_width()
    {
        var x = Synthetic.Gaussian(50_000, 1, seed: 4);
        x[49_999] = 30; // the last batch reaches 7x past the first one's range: within the 8x a grid widens by
        var grown = new GridHistogram(absolute: false, binsPerSide: 128);
        var batches = Synthetic.Batches(x, 5000).ToArray();
        foreach (var b in batches) grown.Add(b);
        var first = new GridHistogram(absolute: false, binsPerSide: 128);
        first.Add(batches[0]);
        Assert.Equal(first.WidthExponent, grown.WidthExponent);
        Assert.Equal(Direct(x, grown.WidthExponent!.Value), Bins(grown));
        Assert.True(grown.GetCounts().Length > 2 * 128); // it did grow
        Assert.Equal(x.Length, grown.GetCounts().Sum());
    }

    [Fact]
    public void Past_eight_times_the_first_range_the_width_doubles_until_the_data_fit()
    {
        var x = Synthetic.Gaussian(50_000, 1, seed: 4);
        x[49_999] = 200; // about 50x past the first batch's range
        var grown = new GridHistogram(absolute: false, binsPerSide: 128);
        var batches = Synthetic.Batches(x, 5000).ToArray();
        foreach (var b in batches) grown.Add(b);
        var first = new GridHistogram(absolute: false, binsPerSide: 128);
        first.Add(batches[0]);
        int e = grown.WidthExponent!.Value;
        // The smallest power of two that keeps 200 within 8 * 128 bins, coarser than the first batch's width.
        Assert.True(200 < 8 * 128 * Math.ScaleB(1.0, e) && 200 >= 8 * 128 * Math.ScaleB(1.0, e - 1));
        Assert.True(e > first.WidthExponent);
        Assert.Equal(Direct(x, e), Bins(grown));
        Assert.True(grown.GetCounts().Length <= 2 * 8 * 128);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_first_batch_cut_into_sub_batches_sets_the_width_the_whole_batch_sets(bool absolute)
    {
        // Growing sub-batches: the first alone would set a 16x finer grid, which the batch then coarsens.
        var first = Synthetic.Gaussian(3000, 0.25, seed: 1).Concat(Synthetic.Gaussian(3000, 4, seed: 2)).ToArray();
        var later = Synthetic.Gaussian(3000, 10, seed: 3);
        var whole = new GridHistogram(absolute, 256);
        whole.Add(first);
        whole.Add(later);
        var cut = new GridHistogram(absolute, 256);
        cut.Add(first.AsSpan(0, 3000));
        cut.Add(first.AsSpan(3000), startsBatch: false);
        cut.Add(later);
        Assert.Equal((whole.WidthExponent, whole.BatchCount), (cut.WidthExponent, cut.BatchCount));
        Assert.Equal(Bins(whole), Bins(cut));
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
    public void Halves_on_a_common_grid_merge_into_the_whole_stream_exactly(bool absolute)
    {
        // Both halves' first batches reach 3 (the same width); the second half then reaches 7x further.
        var x = Synthetic.Gaussian(30_000, 0.5, seed: 5).Concat(Synthetic.Gaussian(30_000, 0.5, seed: 6)).ToArray();
        (x[10], x[30_010], x[35_000]) = (3, -3, 20);
        var (whole, a, b) = (new GridHistogram(absolute, 512), new GridHistogram(absolute, 512), new GridHistogram(absolute, 512));
        int k = 0;
        foreach (var batch in Synthetic.Batches(x, 3000))
        {
            whole.Add(batch);
            (k++ < 10 ? a : b).Add(batch);
        }
        Assert.Equal(a.WidthExponent, b.WidthExponent);
        a.Merge(b);
        Assert.Equal(whole.WidthExponent, a.WidthExponent);
        Assert.Equal(Bins(whole), Bins(a));
        Assert.Equal((whole.Min, whole.Max, whole.Count, whole.BatchCount), (a.Min, a.Max, a.Count, a.BatchCount));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Halves_on_different_grids_merge_exactly_onto_the_coarser_in_either_order(bool absolute)
    {
        var x = Synthetic.Gaussian(30_000, 0.01, seed: 5).Concat(Synthetic.Gaussian(30_000, 40, seed: 6)).ToArray();
        GridHistogram Half(int part)
        {
            var h = new GridHistogram(absolute, 512);
            foreach (var batch in Synthetic.Batches(x[(part * 30_000)..((part + 1) * 30_000)], 3000)) h.Add(batch);
            return h;
        }
        var (a, b) = (Half(0), Half(1));
        Assert.True(b.WidthExponent > a.WidthExponent);
        int e = b.WidthExponent!.Value;
        a.Merge(b);
        var (a2, b2) = (Half(0), Half(1));
        b2.Merge(a2);
        foreach (var m in new[] { a, b2 })
        {
            Assert.Equal(e, m.WidthExponent);
            Assert.Equal(Direct(x, e, absolute), Bins(m));
            Assert.Equal(x.Length, m.Count);
        }
    }

    [Fact]
    public void Stored_form_round_trips()
    {
        var h = new GridHistogram(absolute: false, binsPerSide: 256);
        h.Add(Synthetic.Gaussian(10_000, 3, seed: 7));
        h.Add(Synthetic.Gaussian(10_000, 12, seed: 8)); // grown past R bins a side
        var back = GridHistogram.FromData(h.ToData(), h.Min, h.Max, h.Count, h.NonFinite, h.BatchCount);
        Assert.Equal(Bins(h), Bins(back));
        Assert.Equal(h.WidthExponent, back.WidthExponent);
        // Later batches widen a loaded histogram as they would the original.
        var more = Synthetic.Gaussian(10_000, 30, seed: 9);
        h.Add(more);
        back.Add(more);
        Assert.Equal(Bins(h), Bins(back));
        Assert.Equal(h.WidthExponent, back.WidthExponent);
    }
}
