using EvoQuant.Numerics;
using Xunit;

namespace EvoQuant.Tests.Numerics;

public class ErrorMetricsTests
{
    private static void Close(double expected, double actual, double relTol = 1e-12)
    {
        if (double.IsInfinity(expected) || double.IsNaN(expected)) { Assert.Equal(expected, actual); return; }
        Assert.True(Math.Abs(expected - actual) <= relTol * Math.Max(1, Math.Abs(expected)), $"expected {expected:R}, got {actual:R}");
    }

    [Theory]
    [MemberData(nameof(NumericsData.LengthData), MemberType = typeof(NumericsData))]
    public void MatchesScalarReference(int n)
    {
        if (n == 0) return;
        var r = NumericsData.Uniform(n, n, -3, 3);
        var c = r.Select((v, i) => v + (i % 5 - 2) * 0.01f).ToArray();
        Close(ScalarReference.Mse(r, c), ErrorMetrics.Mse(r, c));
        Close(ScalarReference.MaxAbsError(r, c), ErrorMetrics.MaxAbsError(r, c));
        Close(ScalarReference.MeanAbsError(r, c), ErrorMetrics.MeanAbsError(r, c));
        Close(ScalarReference.CosineSimilarity(r, c), ErrorMetrics.CosineSimilarity(r, c));
        Close(ScalarReference.Sqnr(r, c), ErrorMetrics.Sqnr(r, c), 1e-9);
    }

    [Fact]
    public void HandWorkedExample()
    {
        float[] r = { 1, 2 }, c = { 1, 1 };
        var s = ErrorMetrics.Summarize(r, c);
        Close(0.5, s.Mse);
        Close(1, s.MaxAbsError);
        Close(0.5, s.MeanAbsError);
        Close(3 / (Math.Sqrt(5) * Math.Sqrt(2)), s.CosineSimilarity);
        Close(10 * Math.Log10(5.0), s.Sqnr);
        Assert.Equal(2, s.Count);
    }

    [Fact]
    public void EqualInputsGiveInfiniteSqnrAndZeroError()
    {
        var r = NumericsData.Uniform(1001, 3);
        var s = ErrorMetrics.Summarize(r, r);
        Assert.Equal(double.PositiveInfinity, s.Sqnr);
        Assert.Equal(0, s.Mse);
        Assert.Equal(0, s.MaxAbsError);
        Close(1, s.CosineSimilarity);
    }

    [Fact]
    public void NaNPropagatesAndLengthMismatchThrows()
    {
        var r = NumericsData.Uniform(100, 4);
        var c = (float[])r.Clone();
        c[57] = float.NaN;
        var s = ErrorMetrics.Summarize(r, c);
        Assert.True(double.IsNaN(s.Mse) && double.IsNaN(s.Sqnr) && double.IsNaN(s.MaxAbsError) && double.IsNaN(s.CosineSimilarity));
        Assert.Throws<ArgumentException>(() => ErrorMetrics.Mse(new float[3], new float[4]));
        Assert.Throws<ArgumentException>(() => ErrorMetrics.Sqnr(new float[3], new float[2]));
    }

    [Fact]
    public void AccumulatesInDouble()
    {
        // 4M values of 1 vs 1 + 2^-12: a float sum of the squared error would stall far from the truth.
        int n = 1 << 22;
        var r = Enumerable.Repeat(1f, n).ToArray();
        var c = Enumerable.Repeat(1f + 1f / 4096, n).ToArray();
        Close(1.0 / (4096.0 * 4096.0), ErrorMetrics.Mse(r, c), 1e-9);
        Close(10 * Math.Log10(4096.0 * 4096.0), ErrorMetrics.Sqnr(r, c), 1e-9);
    }
}

public class ErrorAccumulatorTests
{
    [Fact]
    public void BatchesAndMergesGiveTheWholeTensorsResult()
    {
        var r = NumericsData.Uniform(10007, 11, -2, 2);
        var c = r.Select((v, i) => v + (i % 7 - 3) * 1e-3f).ToArray();
        var whole = ErrorMetrics.Summarize(r, c);

        var a = new ErrorAccumulator();
        var b = new ErrorAccumulator();
        a.Add(r.AsSpan(0, 3000), c.AsSpan(0, 3000));
        a.Add(r.AsSpan(3000, 1), c.AsSpan(3000, 1));
        b.Add(r.AsSpan(3001), c.AsSpan(3001));
        a.Merge(b);
        var s = a.Summary;

        Assert.Equal(whole.Count, s.Count);
        Assert.Equal(whole.MaxAbsError, s.MaxAbsError);
        foreach (var (x, y) in new[] { (whole.Mse, s.Mse), (whole.MeanAbsError, s.MeanAbsError), (whole.CosineSimilarity, s.CosineSimilarity), (whole.Sqnr, s.Sqnr) })
            Assert.True(Math.Abs(x - y) <= 1e-10 * Math.Max(1, Math.Abs(x)), $"{x:R} vs {y:R}");
        Assert.Throws<ArgumentException>(() => a.Add(new float[2], new float[3]));
    }
}
