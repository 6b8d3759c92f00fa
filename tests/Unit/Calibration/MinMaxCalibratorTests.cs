using EvoQuant.Calibration;
using Xunit;

namespace EvoQuant.Tests.Calibration;

public class MinMaxCalibratorTests
{
    private static MinMaxCalibrator New(bool symmetric = false, bool movingAverage = false) =>
        new(new CalibrationSettings { Method = CalibrationMethod.MinMax, Symmetric = symmetric, MovingAverage = movingAverage });

    [Fact]
    public void Range_is_the_extremes_over_all_batches()
    {
        var c = New();
        var x = Synthetic.Uniform(10_000, -3, 5, seed: 1);
        foreach (var b in Synthetic.Batches(x, 1000)) c.Update("t", b);
        var r = c.ComputeRanges().Single();
        Assert.Equal(x.Min(), r.RangeMin);
        Assert.Equal(x.Max(), r.RangeMax);
        Assert.Equal(10_000, r.ElementCount);
        Assert.Equal(10, r.BatchCount);
    }

    [Fact]
    public void Outliers_are_kept()
    {
        var c = New();
        c.Update("t", Synthetic.GaussianWithOutliers(100_000, 4, 1000, seed: 2));
        var r = c.ComputeRanges().Single();
        Assert.Equal(-1000, r.RangeMin);
        Assert.Equal(1000, r.RangeMax);
    }

    [Fact]
    public void Symmetric_range_is_plus_minus_the_largest_magnitude()
    {
        var c = New(symmetric: true);
        c.Update("t", new float[] { -1, 0.5f, 3 });
        var r = c.ComputeRanges().Single();
        Assert.Equal((-3f, 3f), (r.RangeMin, r.RangeMax));
        Assert.Equal((-1f, 3f), (r.Min, r.Max));
    }

    [Fact]
    public void Moving_average_is_the_mean_of_per_batch_extremes()
    {
        var c = New(movingAverage: true);
        c.Update("t", new float[] { -1, 2 });
        c.Update("t", new float[] { -3, 4 });
        c.Update("t", new float[] { 0, 9 });
        var r = c.ComputeRanges().Single();
        Assert.Equal(-4f / 3, r.RangeMin, 6);
        Assert.Equal(5f, r.RangeMax, 6);
        Assert.Equal((-3f, 9f), (r.Min, r.Max));
    }

    [Fact]
    public void NaN_and_infinity_are_left_out_and_counted()
    {
        var c = New();
        c.Update("t", new[] { 1f, float.NaN, -2f, float.PositiveInfinity });
        var r = c.ComputeRanges().Single();
        Assert.Equal((-2f, 1f), (r.RangeMin, r.RangeMax));
        Assert.Equal(2, r.NonFiniteCount);
    }

    [Fact]
    public void Merging_halves_equals_the_whole_stream()
    {
        var x = Synthetic.Gaussian(20_000, 2, seed: 3);
        var batches = Synthetic.Batches(x, 997).ToList();
        foreach (bool avg in new[] { false, true })
        {
            var whole = New(movingAverage: avg);
            var a = New(movingAverage: avg);
            var b = New(movingAverage: avg);
            for (int i = 0; i < batches.Count; i++)
            {
                whole.Update("t", batches[i]);
                (i < batches.Count / 2 ? a : b).Update("t", batches[i]);
            }
            a.Merge(b);
            Assert.Equal(whole.ComputeRanges().Single() with { BatchMinSum = 0, BatchMaxSum = 0 },
                a.ComputeRanges().Single() with { BatchMinSum = 0, BatchMaxSum = 0 });
        }
    }
}
