using EvoQuant.Calibration;
using Xunit;

namespace EvoQuant.Tests.Evaluation;

/// <summary>The accuracy report's activation histograms are calibration's <see cref="GridHistogram"/>: batches
/// that widen the range keep every value counted in the right bin, non-finite values are not counted, and
/// the edges the HTML report draws (<see cref="GridHistogram.Low"/>, <see cref="GridHistogram.High"/>) hold the data.</summary>
public class ReportHistogramTests
{
    [Fact]
    public void Growing_range_gives_the_histogram_of_all_values()
    {
        var rng = new Random(3);
        var h = new GridHistogram(absolute: false, 64);
        var all = new List<float>();
        foreach (float spread in new[] { 0.5f, 1f, 3f, 10f })
        {
            var batch = Enumerable.Range(0, 5000).Select(_ => (float)(rng.NextDouble() * 2 - 0.7) * spread).ToArray();
            h.Add(batch);
            all.AddRange(batch);
        }
        Assert.Equal(all.Count, h.Count);
        Assert.Equal(all.Min(), h.Min);
        Assert.Equal(all.Max(), h.Max);
        Assert.True(h.Low <= all.Min() && h.High >= all.Max(), $"[{h.Low}, {h.High}] vs [{all.Min()}, {all.Max()}]");

        var counts = h.GetCounts();
        var direct = new long[counts.Length];
        foreach (float v in all) direct[Math.Clamp((int)Math.Floor((v - h.Low) / h.BinWidth), 0, counts.Length - 1)]++;
        Assert.Equal(direct, counts); // power-of-two widths: every value lands exactly where it belongs
    }

    [Fact]
    public void Non_finite_values_are_not_counted()
    {
        var h = new GridHistogram(absolute: false, 8);
        h.Add(new[] { 1f, float.NaN, 2f, float.PositiveInfinity, float.NegativeInfinity, 3f });
        h.Add(new[] { float.NaN });
        Assert.Equal(3, h.Count);
        Assert.Equal(4, h.NonFinite);
        Assert.Equal(1, h.Min);
        Assert.Equal(3, h.Max);
        Assert.Equal(3, h.GetCounts().Sum());
    }
}
