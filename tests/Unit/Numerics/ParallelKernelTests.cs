using EvoQuant.Numerics;
using Xunit;

namespace EvoQuant.Tests.Numerics;

/// <summary>The multi-core variants give exactly the single-thread results.</summary>
public class ParallelKernelTests
{
    [Theory]
    [InlineData(1000)]                                   // below the threshold: single thread
    [InlineData(Kernels.ParallelThreshold + 12345)]      // several chunks and a ragged last one
    public void MatchSingleThread(int n)
    {
        var x = NumericsData.QuantInputs(n, 0.25f, n, -128, 255);
        foreach (int dop in new[] { -1, 1, 2, 3 })
        {
            var a = new sbyte[n]; var b = new sbyte[n];
            Kernels.Quantize(x, a, 0.25f, 3);
            Kernels.QuantizeParallel(x, b, 0.25f, 3, dop);
            Assert.Equal(a, b);

            var ua = new byte[n]; var ub = new byte[n];
            Kernels.Quantize(x, ua, 0.25f, 200);
            Kernels.QuantizeParallel(x, ub, 0.25f, 200, dop);
            Assert.Equal(ua, ub);

            var fa = new float[n]; var fb = new float[n];
            Kernels.Dequantize(a, fa, 0.25f, 3);
            Kernels.DequantizeParallel(a, fb, 0.25f, 3, dop);
            Assert.Equal(fa, fb);
            Kernels.Dequantize(ua, fa, 0.25f, 200);
            Kernels.DequantizeParallel(ua, fb, 0.25f, 200, dop);
            Assert.Equal(fa, fb);

            Assert.Equal(Kernels.MinMax(x), Kernels.MinMaxParallel(x, dop));

            var ha = new long[2048]; var hb = new long[2048];
            Kernels.AccumulateHistogram(x, ha, -40f, 70f);
            Kernels.AccumulateHistogramParallel(x, hb, -40f, 70f, dop);
            Assert.Equal(ha, hb);
            Array.Clear(ha); Array.Clear(hb);
            Kernels.AccumulateAbsHistogram(x, ha, 70f);
            Kernels.AccumulateAbsHistogramParallel(x, hb, 70f, dop);
            Assert.Equal(ha, hb);
        }
    }

    [Fact]
    public void BadArgumentsThrowOnTheCallingThread()
    {
        var x = new float[Kernels.ParallelThreshold];
        Assert.Throws<ArgumentException>(() => Kernels.QuantizeParallel(x, new sbyte[10], 1f, 0));
        Assert.Throws<ArgumentException>(() => Kernels.AccumulateHistogramParallel(x, new long[4], 1f, 1f));
        Assert.Throws<ArgumentException>(() => Kernels.AccumulateAbsHistogramParallel(x, new long[4], -1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.QuantizeParallel(x, new byte[x.Length], 0f, 0));
    }
}
