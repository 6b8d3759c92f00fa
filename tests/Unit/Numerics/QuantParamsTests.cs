using EvoQuant.Numerics;
using Xunit;

namespace EvoQuant.Tests.Numerics;

/// <summary>Ranges and parameters as ONNX Runtime's quant_utils defines them (values worked by hand).</summary>
public class QuantParamsTests
{
    [Theory]
    // type, reduce, symmetric, qmin, qmax — the reference tool's tables
    [InlineData(QuantType.Int8, false, false, -128, 127)]
    [InlineData(QuantType.Int8, false, true, -127, 127)]
    [InlineData(QuantType.Int8, true, false, -64, 64)]
    [InlineData(QuantType.Int8, true, true, -64, 64)]
    [InlineData(QuantType.UInt8, false, false, 0, 255)]
    [InlineData(QuantType.UInt8, false, true, 0, 254)]
    [InlineData(QuantType.UInt8, true, false, 0, 127)]
    [InlineData(QuantType.Int16, false, false, -32768, 32767)]
    [InlineData(QuantType.Int16, false, true, -32767, 32767)]
    [InlineData(QuantType.Int16, true, false, -16384, 16384)]
    [InlineData(QuantType.UInt16, false, false, 0, 65535)]
    [InlineData(QuantType.UInt16, false, true, 0, 65534)]
    [InlineData(QuantType.UInt16, true, false, 0, 32767)]
    [InlineData(QuantType.Int4, false, false, -8, 7)]
    [InlineData(QuantType.Int4, false, true, -8, 7)]
    [InlineData(QuantType.Int4, true, false, -4, 3)]
    [InlineData(QuantType.UInt4, false, false, 0, 15)]
    [InlineData(QuantType.UInt4, false, true, 0, 15)]
    [InlineData(QuantType.UInt4, true, false, 0, 7)]
    [InlineData(QuantType.Int32, false, false, int.MinValue, int.MaxValue)]
    public void RangesFollowTheReferenceTool(QuantType t, bool reduce, bool symmetric, int qmin, int qmax)
    {
        Assert.Equal(qmin, t.QMin(reduce, symmetric));
        Assert.Equal(qmax, t.QMax(reduce, symmetric));
    }

    [Theory]
    [InlineData(QuantType.UInt8, 2, false, 8)]
    [InlineData(QuantType.Int8, 3, true, 8)]
    [InlineData(QuantType.UInt16, 4, false, 16)]
    [InlineData(QuantType.Int16, 5, true, 16)]
    [InlineData(QuantType.Int32, 6, true, 32)]
    [InlineData(QuantType.UInt4, 21, false, 4)]
    [InlineData(QuantType.Int4, 22, true, 4)]
    public void OnnxCodesSignednessAndWidth(QuantType t, int code, bool signed, int bits)
    {
        Assert.Equal(code, t.OnnxDataType());
        Assert.Equal(t, QuantTypeInfo.FromOnnxDataType(code));
        Assert.Equal(signed, t.IsSigned());
        Assert.Equal(bits, t.BitWidth());
    }

    [Fact]
    public void UnknownOnnxCodeThrows()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => QuantTypeInfo.FromOnnxDataType(1));
        Assert.False(QuantTypeInfo.TryFromOnnxDataType(17, out _));
    }

    [Fact]
    public void AsymmetricUInt8AndInt8()
    {
        // [-1, 2]: scale = 3/255, zp = round(qmin + 1 / scale) = qmin + 85.
        var u = QuantParamsCalculator.FromRange(-1, 2, QuantType.UInt8, symmetric: false);
        Assert.Equal((float)(3.0 / 255), u.Scale);
        Assert.Equal(85, u.ZeroPoint);
        Assert.Equal(QuantType.UInt8, u.Type);
        var s = QuantParamsCalculator.FromRange(-1, 2, QuantType.Int8, symmetric: false);
        Assert.Equal((float)(3.0 / 255), s.Scale);
        Assert.Equal(-43, s.ZeroPoint);
    }

    [Fact]
    public void SymmetricPutsZeroPointInTheMiddle()
    {
        var s = QuantParamsCalculator.FromRange(-1, 2, QuantType.Int8, symmetric: true);
        Assert.Equal((float)(4.0 / 254), s.Scale);
        Assert.Equal(0, s.ZeroPoint);
        var u = QuantParamsCalculator.FromRange(-1, 2, QuantType.UInt8, symmetric: true);   // [0,254]
        Assert.Equal((float)(4.0 / 254), u.Scale);
        Assert.Equal(127, u.ZeroPoint);
        var r = QuantParamsCalculator.FromRange(-1, 2, QuantType.Int8, symmetric: true, reduceRange: true);
        Assert.Equal(4f / 128, r.Scale);
        Assert.Equal(0, r.ZeroPoint);
        var u4 = QuantParamsCalculator.FromRange(-1, 2, QuantType.UInt4, symmetric: true);   // (0+15)/2 = 7.5 -> 8
        Assert.Equal(8, u4.ZeroPoint);
        Assert.Equal((float)(4.0 / 15), u4.Scale);
        var i4 = QuantParamsCalculator.FromRange(-1, 2, QuantType.Int4, symmetric: true);    // -0.5 -> 0 (even)
        Assert.Equal(0, i4.ZeroPoint);
        var u16 = QuantParamsCalculator.FromRange(-1, 2, QuantType.UInt16, symmetric: true); // [0,65534]
        Assert.Equal(32767, u16.ZeroPoint);
    }

    [Fact]
    public void RangeIsWidenedToIncludeZero()
    {
        var pos = QuantParamsCalculator.FromRange(1, 3, QuantType.UInt8, false);
        Assert.Equal((float)(3.0 / 255), pos.Scale);
        Assert.Equal(0, pos.ZeroPoint);
        var neg = QuantParamsCalculator.FromRange(-3, -1, QuantType.UInt8, false);
        Assert.Equal(255, neg.ZeroPoint);
        var negI8 = QuantParamsCalculator.FromRange(-3, -1, QuantType.Int8, false);
        Assert.Equal(127, negI8.ZeroPoint);
    }

    [Fact]
    public void TinyRangeGivesScaleOneZeroPointZero()
    {
        foreach (var t in new[] { QuantType.UInt8, QuantType.Int8, QuantType.UInt16 })
            foreach (bool sym in new[] { false, true })
            {
                Assert.Equal(new QuantParams(1f, 0, t), QuantParamsCalculator.FromRange(0, 0, t, sym));
                Assert.Equal(new QuantParams(1f, 0, t), QuantParamsCalculator.FromRange(0, 1e-40, t, sym));
            }
    }

    [Fact]
    public void ZeroIsExactlyRepresentable()
    {
        var rng = new Random(9);
        for (int k = 0; k < 2000; k++)
        {
            double lo = -rng.NextDouble() * 100, hi = rng.NextDouble() * 100;
            var p = QuantParamsCalculator.FromRange(lo, hi, QuantType.UInt8, false);
            var y = new byte[1];
            Kernels.Quantize(new[] { 0f }, y, p.Scale, (byte)p.ZeroPoint);
            Assert.Equal(p.ZeroPoint, y[0]);
            Assert.InRange(p.ZeroPoint, 0, 255);
            // The ends of the range land within half a step of the type's limits.
            Assert.InRange(lo / p.Scale + p.ZeroPoint, -0.5 - 1e-3, 0.5 + 1e-3);
        }
    }

    [Fact]
    public void BadRangesThrow()
    {
        Assert.Throws<ArgumentException>(() => QuantParamsCalculator.FromRange(double.NaN, 1, QuantType.UInt8, false));
        Assert.Throws<ArgumentException>(() => QuantParamsCalculator.FromRange(0, double.PositiveInfinity, QuantType.UInt8, false));
        Assert.Throws<ArgumentException>(() => QuantParamsCalculator.FromRange(2, 1, QuantType.UInt8, false));
    }

    [Fact]
    public void PerAxisUsesEachChannelsRange()
    {
        // shape [2, 3, 2], axis 1: channel c holds elements (o, c, i).
        float[] data = { 1, -2, 3, 4, 0, 0.5f, /* o=1 */ 6, -1, -7, 2, 0.25f, 0 };
        var ps = QuantParamsCalculator.PerAxis(data, new long[] { 2, 3, 2 }, 1, QuantType.Int8, symmetric: true);
        Assert.Equal(3, ps.Length);
        Assert.Equal(QuantParamsCalculator.FromRange(-2, 6, QuantType.Int8, true), ps[0]);
        Assert.Equal(QuantParamsCalculator.FromRange(-7, 4, QuantType.Int8, true), ps[1]);
        Assert.Equal(QuantParamsCalculator.FromRange(0, 0.5, QuantType.Int8, true), ps[2]);
        Assert.Equal(ps, QuantParamsCalculator.PerAxis(data, new long[] { 2, 3, 2 }, -2, QuantType.Int8, symmetric: true));
        Assert.Throws<ArgumentException>(() => QuantParamsCalculator.PerAxis(data, new long[] { 2, 3, 3 }, 1, QuantType.Int8, true));
        Assert.Throws<ArgumentOutOfRangeException>(() => QuantParamsCalculator.PerAxis(data, new long[] { 2, 3, 2 }, 3, QuantType.Int8, true));
    }
}
