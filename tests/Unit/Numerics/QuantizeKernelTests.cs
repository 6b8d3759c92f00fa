using EvoQuant.Numerics;
using Xunit;

namespace EvoQuant.Tests.Numerics;

/// <summary>Every quantize/dequantize path against <see cref="ScalarReference"/>, exactly.</summary>
public class QuantizeKernelTests
{
    // A power of two (exact ties), awkward decimals, a tiny and a large scale.
    public static readonly float[] Scales = { 0.25f, 0.1f, 0.0173f, 3.3e-5f, 7.5f };

    private static void AssertSameInts(int[] expected, int[] actual, float[] x, float scale, int zp)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (expected[i] != actual[i])
                Assert.Fail($"n={x.Length} i={i} x={x[i]:R} scale={scale:R} zp={zp}: expected {expected[i]}, got {actual[i]}");
    }

    private static int[] Reference(float[] x, float scale, int zp, int qmin, int qmax)
    {
        var r = new int[x.Length];
        ScalarReference.Quantize(x, r, scale, zp, qmin, qmax);
        return r;
    }

    [Theory]
    [MemberData(nameof(NumericsData.LengthData), MemberType = typeof(NumericsData))]
    public void Int8MatchesReference(int n)
    {
        foreach (float scale in Scales)
            foreach (sbyte zp in new sbyte[] { 0, -128, 127, 13 })
            {
                var x = NumericsData.QuantInputs(n, scale, n * 31 + zp, -128, 127);
                var y = new sbyte[n];
                Kernels.Quantize(x, y, scale, zp);
                AssertSameInts(Reference(x, scale, zp, -128, 127), y.Select(v => (int)v).ToArray(), x, scale, zp);
            }
    }

    [Theory]
    [MemberData(nameof(NumericsData.LengthData), MemberType = typeof(NumericsData))]
    public void UInt8MatchesReference(int n)
    {
        foreach (float scale in Scales)
            foreach (byte zp in new byte[] { 0, 128, 255, 77 })
            {
                var x = NumericsData.QuantInputs(n, scale, n * 37 + zp, 0, 255);
                var y = new byte[n];
                Kernels.Quantize(x, y, scale, zp);
                AssertSameInts(Reference(x, scale, zp, 0, 255), y.Select(v => (int)v).ToArray(), x, scale, zp);
            }
    }

    [Theory]
    [MemberData(nameof(NumericsData.LengthData), MemberType = typeof(NumericsData))]
    public void Int16MatchesReference(int n)
    {
        foreach (float scale in Scales)
            foreach (short zp in new short[] { 0, short.MinValue, short.MaxValue, -1234 })
            {
                var x = NumericsData.QuantInputs(n, scale, n * 41 + zp, short.MinValue, short.MaxValue);
                var y = new short[n];
                Kernels.Quantize(x, y, scale, zp);
                AssertSameInts(Reference(x, scale, zp, short.MinValue, short.MaxValue), y.Select(v => (int)v).ToArray(), x, scale, zp);
            }
    }

    [Theory]
    [MemberData(nameof(NumericsData.LengthData), MemberType = typeof(NumericsData))]
    public void UInt16MatchesReference(int n)
    {
        foreach (float scale in Scales)
            foreach (ushort zp in new ushort[] { 0, 32768, ushort.MaxValue })
            {
                var x = NumericsData.QuantInputs(n, scale, n * 43 + zp, 0, ushort.MaxValue);
                var y = new ushort[n];
                Kernels.Quantize(x, y, scale, zp);
                AssertSameInts(Reference(x, scale, zp, 0, ushort.MaxValue), y.Select(v => (int)v).ToArray(), x, scale, zp);
            }
    }

    [Theory]
    [MemberData(nameof(NumericsData.LengthData), MemberType = typeof(NumericsData))]
    public void Int4PacksLikeReference(int n)
    {
        foreach (float scale in Scales)
            foreach (var (signed, zp) in new[] { (true, 0), (true, -8), (true, 7), (false, 0), (false, 8), (false, 15) })
            {
                int qmin = signed ? -8 : 0, qmax = signed ? 7 : 15;
                var x = NumericsData.QuantInputs(n, scale, n * 47 + zp, qmin, qmax);
                var packed = new byte[Kernels.Int4ByteCount(n)];
                Kernels.QuantizeInt4(x, packed, scale, zp, signed);
                var expected = ScalarReference.PackInt4(Reference(x, scale, zp, qmin, qmax));
                Assert.Equal(expected, packed);

                // And back: each nibble dequantized as the reference does.
                var back = new float[n];
                Kernels.DequantizeInt4(packed, back, scale, zp, signed);
                for (int i = 0; i < n; i++)
                    Assert.Equal(ScalarReference.Dequantize(ScalarReference.UnpackInt4(packed, i, signed), scale, zp), back[i]);
            }
    }

    [Fact]
    public void Int4OddLengthPadsHighNibbleWithZero()
    {
        var packed = new byte[2] { 0xFF, 0xFF };
        Kernels.QuantizeInt4(new[] { 1f, -1f, -8f }, packed, 1f, 0, signed: true);
        Assert.Equal(new byte[] { 0xF1, 0x08 }, packed);   // 1 | (-1 & 0xF) << 4 ; -8 & 0xF, then a zero nibble
    }

    [Theory]
    [MemberData(nameof(NumericsData.LengthData), MemberType = typeof(NumericsData))]
    public void DequantizeMatchesReferenceBitForBit(int n)
    {
        var rng = new Random(n);
        foreach (float scale in Scales)
        {
            var s8 = Enumerable.Range(0, n).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
            var u8 = Enumerable.Range(0, n).Select(_ => (byte)rng.Next(256)).ToArray();
            var s16 = Enumerable.Range(0, n).Select(_ => (short)rng.Next(short.MinValue, short.MaxValue + 1)).ToArray();
            var u16 = Enumerable.Range(0, n).Select(_ => (ushort)rng.Next(ushort.MaxValue + 1)).ToArray();
            var s32 = Enumerable.Range(0, n).Select(_ => rng.Next(int.MinValue, int.MaxValue)).ToArray();
            var x = new float[n];

            Kernels.Dequantize(s8, x, scale, (sbyte)-3);
            AssertBits(s8.Select(v => ScalarReference.Dequantize(v, scale, -3)), x);
            Kernels.Dequantize(u8, x, scale, (byte)128);
            AssertBits(u8.Select(v => ScalarReference.Dequantize(v, scale, 128)), x);
            Kernels.Dequantize(s16, x, scale, (short)-300);
            AssertBits(s16.Select(v => ScalarReference.Dequantize(v, scale, -300)), x);
            Kernels.Dequantize(u16, x, scale, (ushort)40000);
            AssertBits(u16.Select(v => ScalarReference.Dequantize(v, scale, 40000)), x);
            Kernels.Dequantize(s32, x, scale, 0);
            AssertBits(s32.Select(v => ScalarReference.Dequantize(v, scale, 0)), x);
        }
    }

    private static void AssertBits(IEnumerable<float> expected, float[] actual) =>
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits).ToArray(), actual.Select(BitConverter.SingleToInt32Bits).ToArray());

    [Theory]
    [InlineData(1, 5, 1)]
    [InlineData(3, 4, 17)]
    [InlineData(2, 64, 1)]
    [InlineData(2, 7, 33)]
    [InlineData(1, 3, 0)]
    public void PerAxisMatchesReferencePerChannel(int outer, int channels, int inner)
    {
        var rng = new Random(outer * 1000 + channels * 10 + inner);
        var scales = Enumerable.Range(0, channels).Select(c => Scales[c % Scales.Length]).ToArray();
        var zps8 = Enumerable.Range(0, channels).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
        var zpsU8 = Enumerable.Range(0, channels).Select(_ => (byte)rng.Next(256)).ToArray();
        var x = NumericsData.QuantInputs(outer * channels * inner, 0.25f, 5, -128, 255);

        var y8 = new sbyte[x.Length];
        var yU8 = new byte[x.Length];
        Kernels.QuantizePerAxis(x, y8, channels, inner, scales, zps8);
        Kernels.QuantizePerAxis(x, yU8, channels, inner, scales, zpsU8);
        var back8 = new float[x.Length];
        var backU8 = new float[x.Length];
        Kernels.DequantizePerAxis(y8, back8, channels, inner, scales, zps8);
        Kernels.DequantizePerAxis(yU8, backU8, channels, inner, scales, zpsU8);

        for (int i = 0; i < x.Length; i++)
        {
            int c = i / inner % channels;
            Assert.Equal(ScalarReference.Quantize(x[i], scales[c], zps8[c], -128, 127), y8[i]);
            Assert.Equal(ScalarReference.Quantize(x[i], scales[c], zpsU8[c], 0, 255), yU8[i]);
            Assert.Equal(ScalarReference.Dequantize(y8[i], scales[c], zps8[c]), back8[i]);
            Assert.Equal(ScalarReference.Dequantize(yU8[i], scales[c], zpsU8[c]), backU8[i]);
        }
    }

    [Fact]
    public void SpecialValuesFollowOnnxRuntime()
    {
        // What ONNX Runtime's CPU kernel returns (pinned against it in OrtReferenceTests): NaN -> qmin,
        // +inf -> qmax, -inf -> qmin, -0 -> zero point; ties go to even.
        var x = new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 300f, -300f };
        foreach (int n in new[] { x.Length, 16 * 5 + 3 })
        {
            var xs = Enumerable.Range(0, n).Select(i => x[i % x.Length]).ToArray();
            var y = new sbyte[n];
            Kernels.Quantize(xs, y, 1f, 0);
            var u = new byte[n];
            Kernels.Quantize(xs, u, 1f, 10);
            var expected8 = new sbyte[] { -128, 127, -128, 0, 0, 2, 2, 0, -2, -2, 127, -128 };
            var expectedU8 = new byte[] { 0, 255, 0, 10, 10, 12, 12, 10, 8, 8, 255, 0 };
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(expected8[i % x.Length], y[i]);
                Assert.Equal(expectedU8[i % x.Length], u[i]);
            }
        }
    }

    [Fact]
    public void DividesByTheScaleRatherThanMultiplyingByItsInverse()
    {
        // Find x where round(x / s) != round(x * (1 / s)); the kernel must follow the division.
        var rng = new Random(7);
        float s = 0.1f, inv = 1f / s;
        var xs = new List<float>();
        while (xs.Count < 64)
        {
            float x = (rng.Next(-1000, 1000) + 0.5f) * s;
            foreach (float c in new[] { x, MathF.BitIncrement(x), MathF.BitDecrement(x) })
                if (MathF.Round(c / s) != MathF.Round(c * inv) && MathF.Abs(c / s) < 127) xs.Add(c);
        }
        foreach (int n in new[] { 3, 64 })
        {
            var y = new sbyte[n];
            Kernels.Quantize(xs.Take(n).ToArray(), y, s, 0);
            for (int i = 0; i < n; i++) Assert.Equal((sbyte)MathF.Round(xs[i] / s), y[i]);
        }
    }

    [Fact]
    public void BadArgumentsThrow()
    {
        var x = new float[10];
        Assert.Throws<ArgumentException>(() => Kernels.Quantize(x, new sbyte[9], 1f, 0));
        Assert.Throws<ArgumentException>(() => Kernels.Quantize(x, new byte[9], 1f, 0));
        Assert.Throws<ArgumentException>(() => Kernels.Quantize(x, new short[9], 1f, 0));
        Assert.Throws<ArgumentException>(() => Kernels.Quantize(x, new ushort[9], 1f, 0));
        Assert.Throws<ArgumentException>(() => Kernels.Dequantize(new sbyte[10], new float[9], 1f, 0));
        Assert.Throws<ArgumentException>(() => Kernels.Dequantize(new int[10], new float[9], 1f, 0));
        Assert.Throws<ArgumentException>(() => Kernels.QuantizeInt4(new float[5], new byte[2], 1f, 0, true));
        Assert.Throws<ArgumentException>(() => Kernels.DequantizeInt4(new byte[2], new float[5], 1f, 0, true));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.Quantize(x, new sbyte[10], 0f, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.Quantize(x, new sbyte[10], -1f, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.Quantize(x, new sbyte[10], float.NaN, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.QuantizeInt4(x, new byte[5], 1f, 8, true));
        // Per axis: wrong scale count, zero point count, length not a multiple of the block.
        Assert.Throws<ArgumentException>(() => Kernels.QuantizePerAxis(new float[12], new sbyte[12], 3, 4, new float[2], ReadOnlySpan<sbyte>.Empty));
        Assert.Throws<ArgumentException>(() => Kernels.QuantizePerAxis(new float[12], new sbyte[12], 3, 4, new float[3] { 1, 1, 1 }, new sbyte[2]));
        Assert.Throws<ArgumentException>(() => Kernels.QuantizePerAxis(new float[13], new sbyte[13], 3, 4, new float[3] { 1, 1, 1 }, ReadOnlySpan<sbyte>.Empty));
        Assert.Throws<ArgumentException>(() => Kernels.DequantizePerAxis(new byte[12], new float[11], 3, 4, new float[3] { 1, 1, 1 }, ReadOnlySpan<byte>.Empty));
    }

    [Fact]
    public void OverlappingBuffersThrow()
    {
        var buffer = new float[64];
        var bytes = System.Runtime.InteropServices.MemoryMarshal.Cast<float, byte>(buffer.AsSpan()).ToArray();
        Assert.Throws<ArgumentException>(() =>
        {
            var span = buffer.AsSpan();
            var alias = System.Runtime.InteropServices.MemoryMarshal.Cast<float, sbyte>(span);
            Kernels.Quantize(span[..32], alias[..32], 1f, 0);
        });
        Assert.NotEmpty(bytes);
    }
}

/// <summary>Large outputs take the aligned non-temporal path: check it, its scalar prologue and its tail.</summary>
public class LargeTensorKernelTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(33)]
    public void NonTemporalPathMatchesReference(int offset)
    {
        int n = Kernels.NonTemporalThreshold + 77;
        var x = NumericsData.QuantInputs(n + offset, 0.25f, offset, -128, 255).AsSpan(offset).ToArray();
        var y8 = new sbyte[n + offset];
        var y16 = new short[n + offset];
        Kernels.Quantize(x, y8.AsSpan(offset), 0.25f, -3);
        Kernels.Quantize(x, y16.AsSpan(offset), 0.25f, 100);
        var back = new float[n + offset];
        Kernels.Dequantize(y8.AsSpan(offset), back.AsSpan(offset), 0.25f, -3);
        for (int i = 0; i < n; i++)
        {
            int q = ScalarReference.Quantize(x[i], 0.25f, -3, -128, 127);
            if (q != y8[offset + i]) Assert.Fail($"int8 i={i} x={x[i]} expected {q} got {y8[offset + i]}");
            int q16 = ScalarReference.Quantize(x[i], 0.25f, 100, short.MinValue, short.MaxValue);
            if (q16 != y16[offset + i]) Assert.Fail($"int16 i={i} x={x[i]} expected {q16} got {y16[offset + i]}");
            if (ScalarReference.Dequantize(q, 0.25f, -3) != back[offset + i]) Assert.Fail($"dequantize i={i}");
        }
    }
}
