using EvoQuant.Numerics;
using EvoQuant.Quantization;
using Xunit;

namespace EvoQuant.Tests.Quantization;

public sealed class WeightQuantizerTests
{
    [Theory]
    [InlineData(QuantType.Int8, true, 0)]
    [InlineData(QuantType.Int8, true, 1)]
    [InlineData(QuantType.UInt8, false, 0)]
    [InlineData(QuantType.Int8, true, null)]
    [InlineData(QuantType.UInt8, false, null)]
    public void KernelPathMatchesTheQuantizeLinearFormula(QuantType type, bool symmetric, int? axis)
    {
        var rng = new Random(7);
        long[] dims = { 6, 5, 3, 3 };
        var data = new float[6 * 5 * 9];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 4 - 1.5) * (1 + i % 6);
        var q = WeightQuantizer.Quantize(data, dims, type, symmetric, reduceRange: false, axis);
        var (qmin, qmax) = type.StorageRange();
        int inner = axis == 0 ? 45 : axis == 1 ? 9 : 1;
        int channels = axis is int a ? (int)dims[a] : 1;
        for (int i = 0; i < data.Length; i++)
        {
            var p = q.Params[channels == 1 ? 0 : i / inner % channels];
            int expected = WeightQuantizer.QuantizeOne(data[i], p.Scale, p.ZeroPoint, qmin, qmax);
            int actual = type == QuantType.Int8 ? (sbyte)q.Raw[i] : q.Raw[i];
            Assert.True(expected == actual, $"element {i}: {data[i]} -> {actual}, expected {expected}");
        }
    }

    [Fact]
    public void Int4IsPackedLowNibbleFirst()
    {
        var q = WeightQuantizer.Pack(new[] { 1, -2, 7 }, QuantType.Int4);
        Assert.Equal(new byte[] { 0xE1, 0x07 }, q);
    }
}
