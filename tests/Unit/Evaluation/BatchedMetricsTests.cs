using Xunit;
using EvoQuant.Evaluation;
using EvoQuant.Numerics;

namespace EvoQuant.Tests.Evaluation;

/// <summary>Sums accumulated batch by batch give the metrics of the concatenated data.</summary>
public class BatchedMetricsTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 3)]
    [InlineData(1000, 64)]
    [InlineData(4099, 257)]
    public void AccumulatedMetricsEqualMetricsOfTheWholeArrays(int length, int batch)
    {
        var rng = new Random(length * 31 + batch);
        var reference = new float[length];
        var candidate = new float[length];
        for (int i = 0; i < length; i++)
        {
            reference[i] = (float)(rng.NextDouble() * 20 - 10);
            candidate[i] = reference[i] + (float)(rng.NextDouble() - 0.5) * 0.1f;
        }

        var acc = new ErrorAccumulator();
        for (int start = 0; start < length; start += batch)
        {
            int n = Math.Min(batch, length - start);
            acc.Add(reference.AsSpan(start, n), candidate.AsSpan(start, n));
        }
        var whole = ErrorMetrics.Summarize(reference, candidate);
        var got = acc.Summary;

        Assert.Equal(whole.Count, got.Count);
        AssertClose(whole.Mse, got.Mse, "MSE");
        Assert.Equal(whole.MaxAbsError, got.MaxAbsError); // a max does not depend on the grouping
        AssertClose(whole.MeanAbsError, got.MeanAbsError, "mean abs");
        AssertClose(whole.CosineSimilarity, got.CosineSimilarity, "cosine");
        AssertClose(whole.Sqnr, got.Sqnr, "SQNR");
    }

    [Fact]
    public void MergedShardsEqualOneStream()
    {
        var rng = new Random(5);
        var r = Enumerable.Range(0, 300).Select(_ => (float)rng.NextDouble()).ToArray();
        var c = r.Select(v => v + 0.01f).ToArray();
        var a = new ErrorAccumulator();
        var b = new ErrorAccumulator();
        a.Add(r.AsSpan(0, 100), c.AsSpan(0, 100));
        b.Add(r.AsSpan(100), c.AsSpan(100));
        a.Merge(b);
        AssertClose(ErrorMetrics.Sqnr(r, c), a.Summary.Sqnr, "SQNR");
        Assert.Equal(300, a.Count);
    }

    [Fact]
    public void NaNInOneBatchMakesTheSummaryNaN()
    {
        var acc = new ErrorAccumulator();
        acc.Add(new[] { 1f, 2f }, new[] { 1f, 2.5f });
        acc.Add(new[] { 1f }, new[] { float.NaN });
        Assert.True(double.IsNaN(acc.Summary.Sqnr));
        Assert.True(double.IsNaN(acc.Summary.MaxAbsError));
    }

    [Fact]
    public void LengthMismatchThrows() =>
        Assert.Throws<ArgumentException>(() => new ErrorAccumulator().Add(new float[3], new float[4]));

    private static void AssertClose(double expected, double actual, string what)
    {
        double tol = 1e-9 * Math.Max(1, Math.Abs(expected));
        Assert.True(Math.Abs(expected - actual) <= tol, $"{what}: expected {expected:R}, got {actual:R}");
    }
}
