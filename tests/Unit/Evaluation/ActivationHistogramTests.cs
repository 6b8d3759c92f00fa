using Xunit;
using EvoQuant.Evaluation;

namespace EvoQuant.Tests.Evaluation;

/// <summary>The growing histogram: batches that widen the range merge bins exactly, non-finite values are not counted.</summary>
public class ActivationHistogramTests
{
    [Fact]
    public void GrowingRangeGivesTheHistogramOfAllValues()
    {
        var rng = new Random(3);
        var h = new ActivationHistogram(64);
        var all = new List<float>();
        foreach (float spread in new[] { 0.5f, 1f, 3f, 10f })
        {
            var batch = Enumerable.Range(0, 5000).Select(_ => (float)(rng.NextDouble() * 2 - 0.7) * spread).ToArray();
            h.Add(batch);
            all.AddRange(batch);
        }
        Assert.Equal(all.Count, h.Count);
        Assert.Equal(all.Min(), h.DataMin);
        Assert.Equal(all.Max(), h.DataMax);
        Assert.True(h.Low <= all.Min() && h.High >= all.Max());

        var direct = new long[64];
        double width = (h.High - h.Low) / 64;
        foreach (float v in all) direct[Math.Clamp((int)((v - h.Low) / width), 0, 63)]++;
        var counts = h.GetCounts();
        for (int b = 0; b < 64; b++)
            Assert.True(Math.Abs(direct[b] - counts[b]) <= 2, $"bin {b}: direct {direct[b]}, grown {counts[b]}"); // values on an edge may round either way
    }

    [Fact]
    public void NonFiniteValuesAreNotCounted()
    {
        var h = new ActivationHistogram(8);
        h.Add(new[] { 1f, float.NaN, 2f, float.PositiveInfinity, float.NegativeInfinity, 3f });
        h.Add(new[] { float.NaN });
        Assert.Equal(3, h.Count);
        Assert.Equal(1, h.DataMin);
        Assert.Equal(3, h.DataMax);
    }
}
