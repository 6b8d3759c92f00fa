using System.Runtime.Intrinsics;
using EvoQuant.Calibration;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>The bin computation of <see cref="GridHistogram"/> (<see cref="GridBinner"/>), scalar and at every
/// vector width, gives the exact formula's bins, including values on bin edges, negative zero, and values
/// clamped to the outer bins.</summary>
public class GridBinningTests
{
    [Theory]
    [InlineData(false, -3, 128)]
    [InlineData(true, -3, 256)]
    [InlineData(false, 5, 4096)]
    [InlineData(true, -20, 4096)]
    [InlineData(false, 3, 256)]    // tiny values below: products that underflow to -0 belong to bin -1
    [InlineData(false, 110, 256)]  // near the widest width the float path takes
    public void Vector_bins_equal_scalar_bins(bool absolute, int exponent, int bins)
    {
        var r = new Random(7);
        float w = MathF.ScaleB(1f, exponent);
        int origin = absolute ? 0 : bins / 2, last = bins - 1;
        var x = new float[1003]; // not a multiple of the vector width: the tail takes the scalar path
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (i % 6) switch
            {
                5 => (r.Next(2) == 0 ? -1 : 1) * MathF.ScaleB(1f, -149 + r.Next(4)), // subnormal
                0 => r.Next(-bins, bins) * w,                        // exactly on an edge
                1 => MathF.BitDecrement(r.Next(-bins, bins) * w),    // just below an edge
                2 => -0f,
                3 => (float)(r.NextDouble() * 3 - 1.5) * bins * w,   // some beyond the grid: clamped
                _ => (float)(r.NextDouble() * 2 - 1) * bins / 2 * w,
            };
        }
        var binner = new GridBinner(1f / w, origin, last, absolute);
        for (int i = 0; i < x.Length; i++)
        {
            float v = absolute ? MathF.Abs(x[i]) : x[i];
            int expected = Math.Clamp((int)Math.Floor((double)v / w) + origin, 0, last);
            Assert.True(expected == binner.Bin(x[i]), $"scalar, x={x[i]:R}: bin {binner.Bin(x[i])}, expected {expected}");
            int at = i - i % 16;
            if (at + 16 > x.Length) continue;
            var xs = x.AsSpan(at);
            int lane = i - at;
            Assert.Equal(expected, binner.Bin(Vector128.Create(xs[(lane & ~3)..])).GetElement(lane & 3));
            Assert.Equal(expected, binner.Bin(Vector256.Create(xs[(lane & ~7)..])).GetElement(lane & 7));
            Assert.Equal(expected, binner.Bin(Vector512.Create(xs)).GetElement(lane));
        }
        // NaN and infinities go to the slot after the last bin (dropped and counted as non-finite).
        var odd = new float[16];
        for (int i = 0; i < odd.Length; i++) odd[i] = (i % 4) switch { 0 => float.NaN, 1 => float.PositiveInfinity, 2 => float.NegativeInfinity, _ => w };
        for (int i = 0; i < odd.Length; i++)
        {
            int expected = i % 4 == 3 ? Math.Clamp(1 + origin, 0, last) : last + 1;
            Assert.Equal(expected, binner.Bin(odd[i]));
            Assert.Equal(expected, binner.Bin(Vector128.Create(odd.AsSpan(i & ~3))).GetElement(i & 3));
            Assert.Equal(expected, binner.Bin(Vector256.Create(odd.AsSpan(i & ~7))).GetElement(i & 7));
            Assert.Equal(expected, binner.Bin(Vector512.Create(odd)).GetElement(i));
        }
    }
}
