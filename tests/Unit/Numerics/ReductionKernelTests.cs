using EvoQuant.Numerics;
using Xunit;

namespace EvoQuant.Tests.Numerics;

/// <summary>MinMax, MaxAbs and the histograms against <see cref="ScalarReference"/>.</summary>
public class ReductionKernelTests
{
    private static float[] Mixed(int n, int seed)
    {
        var rng = new Random(seed);
        var x = NumericsData.Uniform(n, seed, -50, 50);
        for (int i = 0; i < n; i++)
            if (rng.Next(10) == 0) x[i] = NumericsData.Special(rng);
        return x;
    }

    [Theory]
    [MemberData(nameof(NumericsData.LengthData), MemberType = typeof(NumericsData))]
    public void MinMaxAndMaxAbsMatchReference(int n)
    {
        if (n == 0) return;   // covered by EmptyInputThrows
        foreach (int seed in new[] { 1, 2, 3 })
        {
            var x = seed == 3 ? NumericsData.Uniform(n, seed) : Mixed(n, n * 7 + seed);
            var (mn, mx) = Kernels.MinMax(x);
            var (rmn, rmx) = ScalarReference.MinMax(x);
            Assert.True(mn == rmn || float.IsNaN(mn) && float.IsNaN(rmn), $"n={n} min {mn} vs {rmn}");
            Assert.True(mx == rmx || float.IsNaN(mx) && float.IsNaN(rmx), $"n={n} max {mx} vs {rmx}");
            float ma = Kernels.MaxAbs(x), rma = ScalarReference.MaxAbs(x);
            Assert.True(ma == rma || float.IsNaN(ma) && float.IsNaN(rma), $"n={n} maxabs {ma} vs {rma}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(16)]
    [InlineData(100)]
    public void NaNIsIgnoredWhereverItSits(int n)
    {
        for (int pos = 0; pos < n; pos++)
        {
            var x = Enumerable.Range(0, n).Select(i => (float)(i - n / 2)).ToArray();
            var (emn, emx) = n == 1 ? (float.NaN, float.NaN) : ScalarReference.MinMax(x.Where((_, i) => i != pos).ToArray());
            x[pos] = float.NaN;
            var (mn, mx) = Kernels.MinMax(x);
            Assert.Equal(emn, mn);
            Assert.Equal(emx, mx);
        }
    }

    [Fact]
    public void AllNaNGivesNaNAndInfinitiesCount()
    {
        foreach (int n in new[] { 1, 3, 17, 100 })
        {
            var nan = Enumerable.Repeat(float.NaN, n).ToArray();
            Assert.True(float.IsNaN(Kernels.MinMax(nan).Min) && float.IsNaN(Kernels.MinMax(nan).Max));
            Assert.True(float.IsNaN(Kernels.MaxAbs(nan)));
            if (n == 1) continue;
            var inf = Enumerable.Repeat(1f, n).ToArray();
            inf[n / 2] = float.NegativeInfinity;
            Assert.Equal((float.NegativeInfinity, 1f), Kernels.MinMax(inf));
            Assert.Equal(float.PositiveInfinity, Kernels.MaxAbs(inf));
        }
    }

    [Theory]
    [MemberData(nameof(NumericsData.LengthData), MemberType = typeof(NumericsData))]
    public void CountNonFiniteMatchesReference(int n)
    {
        foreach (int seed in new[] { 1, 2, 3 })
        {
            var x = seed == 3 ? NumericsData.Uniform(n, seed) : Mixed(n, n * 7 + seed);
            Assert.Equal(ScalarReference.CountNonFinite(x), Kernels.CountNonFinite(x));
        }
        var all = Enumerable.Range(0, n).Select(i => i % 3 == 0 ? float.NaN : i % 3 == 1 ? float.PositiveInfinity : float.NegativeInfinity).ToArray();
        Assert.Equal(n, Kernels.CountNonFinite(all));
    }

    [Fact]
    public void EmptyInputThrows()
    {
        Assert.Throws<ArgumentException>(() => Kernels.MinMax(ReadOnlySpan<float>.Empty));
        Assert.Throws<ArgumentException>(() => Kernels.MaxAbs(ReadOnlySpan<float>.Empty));
    }

    [Theory]
    [MemberData(nameof(NumericsData.LengthData), MemberType = typeof(NumericsData))]
    public void HistogramMatchesReference(int n)
    {
        foreach (int bins in new[] { 1, 7, 128, 2048, 10000 })
        {
            var x = Mixed(n, n + bins);
            var counts = new long[bins];
            var expected = new long[bins];
            counts[0] = expected[0] = 5;   // accumulates onto what is there
            Kernels.AccumulateHistogram(x, counts, -20f, 30f);
            ScalarReference.Histogram(x, expected, -20f, 30f);
            Assert.Equal(expected, counts);

            var abs = new long[bins];
            var absExpected = new long[bins];
            Kernels.AccumulateAbsHistogram(x, abs, 40f);
            ScalarReference.AbsHistogram(x, absExpected, 40f);
            Assert.Equal(absExpected, abs);
            Assert.Equal(x.Count(v => !float.IsNaN(v)), abs.Sum());
        }
    }

    [Fact]
    public void HistogramEdgesBySpec()
    {
        // [0,1) in two bins: below lo -> bin 0, at/above hi -> last bin, NaN dropped.
        var x = new[] { 0f, 0.49f, 0.5f, 0.99f, 1f, -5f, float.NaN, 7f, float.NegativeInfinity, float.PositiveInfinity };
        foreach (int reps in new[] { 1, 7 })   // scalar and vector paths
        {
            var xs = Enumerable.Repeat(x, reps).SelectMany(v => v).ToArray();
            var counts = new long[2];
            Kernels.AccumulateHistogram(xs, counts, 0f, 1f);
            Assert.Equal(new long[] { 4 * reps, 5 * reps }, counts);
            var abs = new long[4];
            Kernels.AccumulateAbsHistogram(xs, abs, 1f);   // |x|: 0,.49 | .5 | .99 ... bins of .25
            Assert.Equal(new long[] { 1 * reps, 1 * reps, 1 * reps, 6 * reps }, abs);
        }
    }

    [Theory]
    [MemberData(nameof(NumericsData.LengthData), MemberType = typeof(NumericsData))]
    public void HistogramCountingTakesMinAndMaxInTheSamePass(int n)
    {
        // The calibrators' histograms learn a batch's range while counting it (NaN ignored, infinities count).
        var x = Mixed(n, n + 17);
        var counts = new long[64];
        HistogramCounter.Count(x, counts, counts.Length + 1, new EvoQuant.Calibration.GridBinner(1f, 32, 63, absolute: false), out float min, out float max);
        var finite = x.Where(v => !float.IsNaN(v)).ToArray();
        if (finite.Length == 0) Assert.Equal((float.PositiveInfinity, float.NegativeInfinity), (min, max));
        else Assert.Equal((finite.Min(), finite.Max()), (min, max));
    }

    [Fact]
    public void HistogramCountsMoreEqualValuesThanASixteenBitCounterHolds()
    {
        // The counting keeps 16-bit partial counters: a million values in one bin must still add up.
        var x = new float[1_000_003];
        Array.Fill(x, 0.3f);
        x[17] = float.NaN;
        x[500_000] = 0.9f;
        var counts = new long[4];
        Kernels.AccumulateHistogram(x, counts, 0f, 1f);
        Assert.Equal(new long[] { 0, 1_000_001, 0, 1 }, counts);
    }

    [Fact]
    public void HistogramBadArgumentsThrow()
    {
        var x = new float[3];
        Assert.Throws<ArgumentException>(() => Kernels.AccumulateHistogram(x, Span<long>.Empty, 0, 1));
        Assert.Throws<ArgumentException>(() => Kernels.AccumulateHistogram(x, new long[4], 1, 1));
        Assert.Throws<ArgumentException>(() => Kernels.AccumulateHistogram(x, new long[4], 2, 1));
        Assert.Throws<ArgumentException>(() => Kernels.AccumulateHistogram(x, new long[4], float.NaN, 1));
        Assert.Throws<ArgumentException>(() => Kernels.AccumulateHistogram(x, new long[4], 0, float.PositiveInfinity));
        Assert.Throws<ArgumentException>(() => Kernels.AccumulateAbsHistogram(x, new long[4], 0));
        Assert.Throws<ArgumentException>(() => Kernels.AccumulateAbsHistogram(x, Span<long>.Empty, 1));
    }
}
