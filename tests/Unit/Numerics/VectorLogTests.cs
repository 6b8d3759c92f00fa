using EvoQuant.Numerics;
using Xunit;

namespace EvoQuant.Tests.Numerics;

/// <summary><see cref="VectorLog"/> against <see cref="Math.Log(double)"/>, its reference, and lanes against the scalar form.</summary>
public class VectorLogTests
{
    // What the Entropy search feeds it (integers, integers minus a small smoothing, eps, large sums) and the
    // whole normal range, with the points around the sqrt(2) split and around 1.
    private static double[] Inputs()
    {
        var r = new Random(11);
        var x = new List<double> { 1e-4, 1, 2, Math.Sqrt(2), Math.BitDecrement(Math.Sqrt(2)), Math.BitIncrement(Math.Sqrt(2)),
            Math.BitDecrement(1.0), Math.BitIncrement(1.0), double.Epsilon * (1L << 52), double.MaxValue, 0.5, 3e15 };
        for (int k = 1; k <= 5000; k++) x.Add(k);
        for (int k = 0; k < 5000; k++) x.Add(r.Next(1, 1 << 30) - r.NextDouble() * 0.9);
        for (int k = 0; k < 5000; k++) x.Add(Math.Exp(r.NextDouble() * 1400 - 700));
        for (int k = 0; k < 2000; k++) x.Add(1 + (r.NextDouble() - 0.5) * 1e-3);
        return x.ToArray();
    }

    private static long UlpDistance(double a, double b) =>
        Math.Abs(BitConverter.DoubleToInt64Bits(a) - BitConverter.DoubleToInt64Bits(b));

    [Fact]
    public void Within_two_ulp_of_Math_Log()
    {
        var x = Inputs();
        var y = (double[])x.Clone();
        VectorLog.LogInPlace(y);
        for (int i = 0; i < x.Length; i++)
        {
            double want = Math.Log(x[i]);
            // Near 1 the log is near 0 and the ulp tiny: there the error is held to 2 ulp of the input.
            bool ok = UlpDistance(y[i], want) <= 2 || Math.Abs(y[i] - want) <= 2 * Math.BitIncrement(1.0) - 2;
            Assert.True(ok, $"log({x[i]:R}) = {y[i]:R}, Math.Log says {want:R}");
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(131)]
    [InlineData(1001)]
    public void Vector_lanes_and_the_scalar_rest_give_the_same_bits(int n)
    {
        var x = Inputs().Take(n).Select(v => v * 1.37).ToArray();
        var y = (double[])x.Clone();
        VectorLog.LogInPlace(y);
        for (int i = 0; i < n; i++) Assert.Equal(BitConverter.DoubleToInt64Bits(VectorLog.Log(x[i])), BitConverter.DoubleToInt64Bits(y[i]));
    }
}
