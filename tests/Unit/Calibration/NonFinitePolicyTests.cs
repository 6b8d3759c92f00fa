using EvoQuant.Calibration;
using EvoQuant.Numerics;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>One NaN policy for every calibrator (see <see cref="ICalibrator"/>): NaN and ±infinity the model
/// computes are left out of the extremes and counted; a tensor with nothing else has no values.</summary>
public sealed class NonFinitePolicyTests
{
    private static List<float[]> Batches()
    {
        var rng = new Random(11);
        var batches = new List<float[]>();
        foreach (int n in new[] { 1000, 37, 64, 513 })
        {
            var x = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 8 - 3)).ToArray();
            for (int i = 0; i < n; i += 1 + rng.Next(40)) x[i] = (i % 3) switch { 0 => float.NaN, 1 => float.PositiveInfinity, _ => float.NegativeInfinity };
            batches.Add(x);
        }
        batches.Add(Enumerable.Repeat(float.NaN, 50).ToArray());                // only NaN: counted, no values
        batches.Add(new[] { float.NaN, 2.5f, float.NaN, -1.25f, float.NaN });  // NaN around numbers (the vector tails)
        return batches;
    }

    [Theory]
    [InlineData(CalibrationMethod.MinMax)]
    [InlineData(CalibrationMethod.Entropy)]
    [InlineData(CalibrationMethod.Percentile)]
    public void Every_calibrator_leaves_out_and_counts_NaN_and_infinities_alike(CalibrationMethod method)
    {
        var batches = Batches();
        var finite = batches.SelectMany(b => b).Where(float.IsFinite).ToArray();
        var (min, max) = ScalarReference.MinMax(finite);
        long nonFinite = batches.Sum(b => ScalarReference.CountNonFinite(b));
        Assert.True(nonFinite > 50);

        var c = Calibrator.Create(new CalibrationSettings { Method = method });
        foreach (var b in batches)
        {
            c.Update("t", b);
            c.Update("only-nan", Enumerable.Repeat(float.NaN, 8).ToArray());
        }
        var ranges = c.ComputeRanges();
        var r = ranges.Single(x => x.Tensor == "t");
        Assert.Equal(min, r.Min);
        Assert.Equal(max, r.Max);
        Assert.Equal(finite.Length, r.ElementCount);
        Assert.Equal(nonFinite, r.NonFiniteCount);
        Assert.True(float.IsFinite(r.RangeMin) && float.IsFinite(r.RangeMax), r.ToString());
        var empty = ranges.Single(x => x.Tensor == "only-nan");
        Assert.Equal(0, empty.ElementCount);
        Assert.Equal(8 * batches.Count, empty.NonFiniteCount);
    }
}
