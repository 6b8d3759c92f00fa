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

    [Theory]
    [InlineData(0.8f, 0)]
    [InlineData(0.8f, null)]
    [InlineData(1.1f, 0)]
    public void A_scale_factor_multiplies_the_computed_scales_and_the_codes_follow_them(float factor, int? axis)
    {
        // Scalar check: max-abs scales times the factor, codes round(x / scale) clipped to int8.
        var rng = new Random(11);
        long[] dims = { 4, 8 };
        var data = new float[32];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1) * (1 + i / 8);
        var q = WeightQuantizer.Quantize(data, dims, QuantType.Int8, symmetric: true, reduceRange: false, axis, new TensorOverride { ScaleFactor = factor });
        for (int i = 0; i < data.Length; i++)
        {
            int c = axis == null ? 0 : i / 8;
            var values = axis == null ? data : data.Skip(c * 8).Take(8).ToArray();
            float maxAbs = values.Max(Math.Abs);
            float scale = maxAbs / 127f * factor;
            Assert.Equal(scale, q.Params[c].Scale, 6);
            int expected = (int)Math.Clamp(Math.Round(data[i] / (double)q.Params[c].Scale, MidpointRounding.ToEven), -128, 127);
            Assert.Equal(expected, (sbyte)q.Raw[i]);
        }
        // Below 1 the largest magnitude is clipped: it no longer fits the grid.
        if (factor < 1) Assert.Contains(q.Raw, b => (sbyte)b == 127 || (sbyte)b == -128);
    }

    [Fact]
    public void A_scale_factor_keeps_pair_safe_weights_safe()
    {
        // Pairs of large same-signed weights: pair-safe scales widen them; a factor below 1 narrows the scale
        // again, and the pairs that would then saturate are pulled back.
        long[] dims = { 2, 4 };
        var data = new float[] { 1f, 1f, 0.9f, -1f, 1f, 0.95f, 1f, 1f };
        var layout = new ReductionLayout(0, new[] { 1 });
        var plain = WeightQuantizer.Quantize(data, dims, QuantType.Int8, true, false, 0, null, layout);
        var scaled = WeightQuantizer.Quantize(data, dims, QuantType.Int8, true, false, 0, new TensorOverride { ScaleFactor = 0.5f }, layout);
        for (int c = 0; c < 2; c++) Assert.Equal(plain.Params[c].Scale * 0.5f, scaled.Params[c].Scale);
        var codes = scaled.Raw.Select(b => (int)(sbyte)b).ToArray();
        for (int i = 0; i < codes.Length; i += 2)
            Assert.True(Math.Abs(codes[i] + codes[i + 1]) <= PairSaturation.MaxSafePairSum, $"pair {i}: {codes[i]} + {codes[i + 1]}");
    }

    [Fact]
    public void Int4IsPackedLowNibbleFirst()
    {
        var q = WeightQuantizer.Pack(new[] { 1, -2, 7 }, QuantType.Int4);
        Assert.Equal(new byte[] { 0xE1, 0x07 }, q);
    }
}
