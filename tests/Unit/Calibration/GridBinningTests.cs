using EvoQuant.Calibration;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>The vectorised bin computation of <see cref="GridHistogram"/> gives the scalar formula's bins
/// exactly, including values on bin edges, negative zero, and values clamped to the outer bins.</summary>
public class GridBinningTests
{
    [Theory]
    [InlineData(false, -3, 128)]
    [InlineData(true, -3, 256)]
    [InlineData(false, 5, 4096)]
    [InlineData(true, -20, 4096)]
    public void Vector_bins_equal_scalar_bins(bool absolute, int exponent, int bins)
    {
        var r = new Random(7);
        float w = MathF.ScaleB(1f, exponent);
        int origin = absolute ? 0 : bins / 2, last = bins - 1;
        var x = new float[1003]; // not a multiple of the vector width: the tail takes the scalar path
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (i % 5) switch
            {
                0 => r.Next(-bins, bins) * w,                        // exactly on an edge
                1 => MathF.BitDecrement(r.Next(-bins, bins) * w),    // just below an edge
                2 => -0f,
                3 => (float)(r.NextDouble() * 3 - 1.5) * bins * w,   // some beyond the grid: clamped
                _ => (float)(r.NextDouble() * 2 - 1) * bins / 2 * w,
            };
        }
        var got = new int[x.Length];
        GridHistogram.BinIndices(x, got, 1f / w, origin, last, absolute);
        for (int i = 0; i < x.Length; i++)
        {
            float v = absolute ? MathF.Abs(x[i]) : x[i];
            int expected = Math.Clamp((int)Math.Floor((double)v / w) + origin, 0, last);
            Assert.True(expected == got[i], $"x={x[i]:R}: bin {got[i]}, expected {expected}");
        }
    }
}
