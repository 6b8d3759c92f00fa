using EvoQuant.Calibration;
using Xunit;

namespace EvoQuant.Tests.Calibration;

public class HistogramCalibratorTests
{
    private static ICalibrator New(CalibrationMethod m, int bins = 0, bool symmetric = false) =>
        Calibrator.Create(new CalibrationSettings { Method = m, Bins = bins, Symmetric = symmetric });

    [Theory]
    [InlineData(CalibrationMethod.Entropy, 2048)]
    [InlineData(CalibrationMethod.Percentile, 2048)]
    public void Far_outliers_are_cut(CalibrationMethod method, int bins)
    {
        var c = New(method, bins);
        foreach (var b in Synthetic.Batches(Synthetic.GaussianWithOutliers(1_000_000, 6, 1000, seed: 10), 50_000)) c.Update("t", b);
        var r = c.ComputeRanges().Single();
        Assert.Equal((-1000f, 1000f), (r.Min, r.Max));
        // Cut at least tenfold. Entropy, like the reference, searches no window narrower than
        // QuantizedBins / Bins of max|x| (128 / 2048 * 1000 = 62.5).
        double floor = method == CalibrationMethod.Entropy ? 62.5 : 3;
        Assert.InRange(r.RangeMax, floor, 100);
        Assert.InRange(r.RangeMin, -100, -floor);
    }

    [Fact]
    public void Entropy_with_as_many_bins_as_quantized_bins_keeps_the_whole_range_as_the_reference_does()
    {
        // With the default 128 bins and 128 quantized bins the reference has a single candidate, the full
        // histogram: a ReLU6-like tensor must keep [0, 6] (clipping it cost the PaddleOCR models their output).
        var x = Synthetic.Gaussian(200_000, 1.5, seed: 12).Select(v => Math.Clamp(v, 0f, 6f)).ToArray();
        x[5] = 6f;
        var c = New(CalibrationMethod.Entropy);
        c.Update("relu6", x);
        var r = c.ComputeRanges().Single();
        Assert.Equal((0f, 6f), (r.RangeMin, r.RangeMax));
        // With 2048 bins the search may cut, but never below 128 / 2048 of the largest value.
        var fine = New(CalibrationMethod.Entropy, 2048);
        fine.Update("relu6", x);
        var f = fine.ComputeRanges().Single();
        Assert.InRange(f.RangeMax, 6.0 / 16, 6.0);
        Assert.True(f.RangeMax < 6f, $"2048 bins: {f.RangeMax} (the Gaussian bulk should be cut below the clamp at 6)");
    }

    [Fact]
    public void Percentile_of_a_uniform_distribution_is_its_end()
    {
        var c = New(CalibrationMethod.Percentile);
        c.Update("t", Synthetic.Uniform(200_000, -4, 4, seed: 11));
        var r = c.ComputeRanges().Single();
        Assert.InRange(r.RangeMax, 3.99, 4.0);
        Assert.InRange(r.RangeMin, -4.0, -3.99);
    }

    [Fact]
    public void Percentile_99_of_uniform_0_1_is_near_0_99()
    {
        var c = Calibrator.Create(new CalibrationSettings { Method = CalibrationMethod.Percentile, Percentile = 99 });
        c.Update("t", Synthetic.Uniform(200_000, 0, 1, seed: 12));
        var r = c.ComputeRanges().Single();
        Assert.InRange(r.RangeMax, 0.985, 0.995);
        Assert.True(r.RangeMin >= 0, "clipped to the observed minimum");
    }

    [Fact]
    public void Entropy_of_a_uniform_distribution_keeps_almost_all_of_it()
    {
        var c = New(CalibrationMethod.Entropy, 2048);
        c.Update("t", Synthetic.Uniform(500_000, -2, 2, seed: 13));
        var r = c.ComputeRanges().Single();
        Assert.InRange(r.RangeMax, 1.8, 2.0);
        Assert.InRange(r.RangeMin, -2.0, -1.8);
    }

    [Fact]
    public void Entropy_with_default_bins_is_the_observed_range_like_the_reference()
    {
        // 128 bins with 128 quantized bins leave the reference tool a single candidate: everything.
        var c = New(CalibrationMethod.Entropy);
        var x = Synthetic.Gaussian(100_000, 1, seed: 14);
        c.Update("t", x);
        var r = c.ComputeRanges().Single();
        Assert.InRange(r.RangeMax, x.Max() * 0.9f, x.Max());
    }

    [Fact]
    public void ReLU_like_data_gives_a_range_starting_at_zero()
    {
        foreach (var m in new[] { CalibrationMethod.Entropy, CalibrationMethod.Percentile })
        {
            var c = New(m, 2048);
            c.Update("t", Synthetic.Gaussian(100_000, 1, seed: 15).Select(v => Math.Max(0, v)).ToArray());
            var r = c.ComputeRanges().Single();
            Assert.Equal(0, r.RangeMin);
            Assert.True(r.RangeMax > 1, $"{m}: {r}");
        }
    }

    [Theory]
    [InlineData(CalibrationMethod.Entropy)]
    [InlineData(CalibrationMethod.Percentile)]
    public void Merging_halves_equals_the_whole_stream(CalibrationMethod method)
    {
        var x = Synthetic.GaussianWithOutliers(200_000, 3, 50, seed: 16);
        var whole = New(method, 512);
        var a = New(method, 512);
        var b = New(method, 512);
        int k = 0;
        foreach (var batch in Synthetic.Batches(x, 10_000))
        {
            whole.Update("t", batch);
            (k++ % 3 == 0 ? a : b).Update("t", batch);
        }
        a.Merge(b);
        var w = whole.ComputeRanges().Single();
        var m = a.ComputeRanges().Single();
        Assert.Equal(w.Histogram!.Counts, m.Histogram!.Counts);
        Assert.Equal(w with { Histogram = null }, m with { Histogram = null });
    }

    [Fact]
    public void Symmetric_option_makes_the_range_symmetric()
    {
        var c = New(CalibrationMethod.Percentile, symmetric: true);
        c.Update("t", Synthetic.Uniform(10_000, 0, 3, seed: 17));
        var r = c.ComputeRanges().Single();
        Assert.Equal(-r.RangeMax, r.RangeMin);
    }
}
