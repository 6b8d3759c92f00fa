using EvoQuant.Calibration;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>Table comparisons shared by the budget tests.</summary>
internal static class Tables
{
    /// <summary>Equal rows: tensor, extremes, chosen range, counts, histogram, BatchCount, histogram.</summary>
    public static void AssertSame(IReadOnlyList<TensorRange> expected, IReadOnlyList<TensorRange> actual)
    {
        Assert.Equal(expected.Select(r => r.Tensor), actual.Select(r => r.Tensor));
        for (int i = 0; i < expected.Count; i++)
        {
            var (a, b) = (expected[i], actual[i]);
            Assert.Equal((a.Tensor, a.Min, a.Max, a.RangeMin, a.RangeMax), (b.Tensor, b.Min, b.Max, b.RangeMin, b.RangeMax));
            Assert.Equal((a.Tensor, a.ElementCount, a.NonFiniteCount, a.BatchCount), (b.Tensor, b.ElementCount, b.NonFiniteCount, b.BatchCount));
            if (a.Histogram == null) { Assert.Null(b.Histogram); continue; }
            Assert.Equal((a.Histogram.WidthExponent, a.Histogram.FirstBin), (b.Histogram!.WidthExponent, b.Histogram.FirstBin));
            Assert.Equal(a.Histogram.Counts, b.Histogram.Counts);
        }
    }
}
