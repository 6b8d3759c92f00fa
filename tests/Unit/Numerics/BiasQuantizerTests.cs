using EvoQuant.Numerics;
using Xunit;

namespace EvoQuant.Tests.Numerics;

public class BiasQuantizerTests
{
    [Fact]
    public void PerTensorScaleIsInputTimesWeightScale()
    {
        float[] bias = { 1f, -2.5f, 0.0375f, 0f };
        var q = BiasQuantizer.Quantize(bias, 0.5f, new[] { 0.1f }, out bool clipped);
        float scale = 0.5f * 0.1f;
        Assert.False(clipped);
        Assert.Equal(bias.Select(b => (int)Math.Round(b / (double)scale, MidpointRounding.ToEven)).ToArray(), q);
        Assert.Equal(new[] { scale }, BiasQuantizer.Scales(0.5f, new[] { 0.1f }));
    }

    [Fact]
    public void PerChannelAndHalfToEven()
    {
        // bias / scale = 2.5, 3.5, -2.5 exactly (power-of-two scales): half to even gives 2, 4, -2.
        var q = BiasQuantizer.Quantize(new[] { 1.25f, 0.875f, -0.15625f }, 0.5f, new[] { 1f, 0.5f, 0.125f }, out bool clipped);
        Assert.Equal(new[] { 2, 4, -2 }, q);
        Assert.False(clipped);
    }

    [Fact]
    public void SaturatesAndReportsClipping()
    {
        var q = BiasQuantizer.Quantize(new[] { 1e10f, -1e10f, 1f }, 1e-3f, new[] { 1e-3f }, out bool clipped);
        Assert.True(clipped);
        Assert.Equal(int.MaxValue, q[0]);
        Assert.Equal(int.MinValue, q[1]);
        Assert.Equal((int)Math.Round(1 / (double)(1e-3f * 1e-3f)), q[2]);
    }

    [Fact]
    public void UnderflowingScaleClipsNonZeroBiases()
    {
        // 1e-30 * 1e-30 underflows to 0 in float32.
        var q = BiasQuantizer.Quantize(new[] { 0f, 2f, -2f }, 1e-30f, new[] { 1e-30f }, out bool clipped);
        Assert.True(clipped);
        Assert.Equal(new[] { 0, int.MaxValue, int.MinValue }, q);
        Assert.Equal(new[] { 0f }, BiasQuantizer.Scales(1e-30f, new[] { 1e-30f }));
    }

    [Fact]
    public void BadArgumentsThrow()
    {
        Assert.Throws<ArgumentException>(() => BiasQuantizer.Quantize(new float[3], 1f, new float[2] { 1, 1 }, out _));
        Assert.Throws<ArgumentException>(() => BiasQuantizer.Quantize(new float[1], 1f, new float[] { -1f }, out _));
        Assert.Throws<ArgumentException>(() => BiasQuantizer.Quantize(new float[1], 1f, new float[] { float.NaN }, out _));
        Assert.Throws<ArgumentException>(() => BiasQuantizer.Quantize(new float[1], 1f, ReadOnlySpan<float>.Empty, out _));
        Assert.Throws<ArgumentException>(() => BiasQuantizer.Quantize(new[] { float.NaN }, 1f, new float[] { 1f }, out _));
    }
}
