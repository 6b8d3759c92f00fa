using EvoQuant.Numerics;
using Xunit;

namespace EvoQuant.Tests.Numerics;

/// <summary>
/// ONNX Runtime (Microsoft.ML.OnnxRuntime, CPU, one thread) as a second reference: one-node
/// QuantizeLinear / DequantizeLinear models on 1M values with exact ties, near ties, out-of-range values,
/// NaN and ±inf. Results must be bit-exact.
/// </summary>
public class OrtReferenceTests
{
    private const int N = 1 << 20;

    // Shape for per-axis runs: [outer, channels, inner] with axis 1.
    private static readonly long[] AxisShape = { 4, 256, 1024 };

    [Theory]
    [InlineData(13, 0.25f, 0)]
    [InlineData(13, 0.0173f, -7)]
    [InlineData(21, 0.25f, 5)]
    [InlineData(21, 3.3e-3f, -128)]
    public void QuantizeInt8PerTensorMatchesOrt(int opset, float scale, int zp)
    {
        var x = NumericsData.QuantInputs(N, scale, opset + zp, -128, 127);
        var ort = OrtRunner.Run<float, sbyte>(OrtModels.Quantize(opset, OrtModels.Int8, new long[] { N }, new[] { scale }, new long[] { zp }), x, new long[] { N });
        var ours = new sbyte[N];
        Kernels.Quantize(x, ours, scale, (sbyte)zp);
        AssertEqual(ort, ours, x);
    }

    [Theory]
    [InlineData(13, 0.25f, 128)]
    [InlineData(13, 0.0173f, 0)]
    [InlineData(21, 0.25f, 255)]
    [InlineData(21, 3.3e-3f, 77)]
    public void QuantizeUInt8PerTensorMatchesOrt(int opset, float scale, int zp)
    {
        var x = NumericsData.QuantInputs(N, scale, opset + zp, 0, 255);
        var ort = OrtRunner.Run<float, byte>(OrtModels.Quantize(opset, OrtModels.UInt8, new long[] { N }, new[] { scale }, new long[] { zp }), x, new long[] { N });
        var ours = new byte[N];
        Kernels.Quantize(x, ours, scale, (byte)zp);
        AssertEqual(ort, ours, x);
    }

    [Fact]
    public void QuantizeInt16AndUInt16MatchOrtAtOpset21()
    {
        var x = NumericsData.QuantInputs(N, 0.25f, 16, short.MinValue, ushort.MaxValue);
        var ort16 = OrtRunner.Run<float, short>(OrtModels.Quantize(21, OrtModels.Int16, new long[] { N }, new[] { 0.25f }, new long[] { -5 }), x, new long[] { N });
        var ours16 = new short[N];
        Kernels.Quantize(x, ours16, 0.25f, -5);
        AssertEqual(ort16, ours16, x);

        var ortU16 = OrtRunner.Run<float, ushort>(OrtModels.Quantize(21, OrtModels.UInt16, new long[] { N }, new[] { 0.25f }, new long[] { 32768 }), x, new long[] { N });
        var oursU16 = new ushort[N];
        Kernels.Quantize(x, oursU16, 0.25f, 32768);
        AssertEqual(ortU16, oursU16, x);
    }

    [Theory]
    [InlineData(13)]
    [InlineData(21)]
    public void QuantizePerAxisMatchesOrt(int opset)
    {
        int channels = (int)AxisShape[1], inner = (int)AxisShape[2];
        var scales = Enumerable.Range(0, channels).Select(c => c % 3 == 0 ? 0.25f : 0.001f * (c + 1)).ToArray();
        var zps8 = Enumerable.Range(0, channels).Select(c => (long)(c % 7 - 3)).ToArray();
        var zpsU8 = Enumerable.Range(0, channels).Select(c => (long)(c % 200)).ToArray();
        var x = NumericsData.QuantInputs(N, 0.25f, opset, -128, 255);

        var ort8 = OrtRunner.Run<float, sbyte>(OrtModels.Quantize(opset, OrtModels.Int8, AxisShape, scales, zps8, axis: 1), x, AxisShape);
        var ours8 = new sbyte[N];
        Kernels.QuantizePerAxis(x, ours8, channels, inner, scales, zps8.Select(v => (sbyte)v).ToArray());
        AssertEqual(ort8, ours8, x);

        var ortU8 = OrtRunner.Run<float, byte>(OrtModels.Quantize(opset, OrtModels.UInt8, AxisShape, scales, zpsU8, axis: 1), x, AxisShape);
        var oursU8 = new byte[N];
        Kernels.QuantizePerAxis(x, oursU8, channels, inner, scales, zpsU8.Select(v => (byte)v).ToArray());
        AssertEqual(ortU8, oursU8, x);
    }

    [Theory]
    [InlineData(13)]
    [InlineData(21)]
    public void DequantizeMatchesOrt(int opset)
    {
        var rng = new Random(opset);
        var s8 = Enumerable.Range(0, N).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
        var u8 = Enumerable.Range(0, N).Select(_ => (byte)rng.Next(256)).ToArray();
        var s32 = Enumerable.Range(0, N).Select(_ => rng.Next(int.MinValue / 2, int.MaxValue / 2)).ToArray();
        const float scale = 0.0173f;

        var ours = new float[N];
        Kernels.Dequantize(s8, ours, scale, (sbyte)-9);
        AssertEqual(OrtRunner.Run<sbyte, float>(OrtModels.Dequantize(opset, OrtModels.Int8, new long[] { N }, new[] { scale }, new long[] { -9 }), s8, new long[] { N }), ours, s8);

        Kernels.Dequantize(u8, ours, scale, (byte)131);
        AssertEqual(OrtRunner.Run<byte, float>(OrtModels.Dequantize(opset, OrtModels.UInt8, new long[] { N }, new[] { scale }, new long[] { 131 }), u8, new long[] { N }), ours, u8);

        Kernels.Dequantize(s32, ours, 1e-6f, 0);
        AssertEqual(OrtRunner.Run<int, float>(OrtModels.Dequantize(opset, OrtModels.Int32, new long[] { N }, new[] { 1e-6f }, new long[] { 0 }), s32, new long[] { N }), ours, s32);

        int channels = (int)AxisShape[1], inner = (int)AxisShape[2];
        var scales = Enumerable.Range(0, channels).Select(c => 0.001f * (c + 1)).ToArray();
        var zps = Enumerable.Range(0, channels).Select(c => (long)(c % 11 - 5)).ToArray();
        Kernels.DequantizePerAxis(s8, ours, channels, inner, scales, zps.Select(v => (sbyte)v).ToArray());
        AssertEqual(OrtRunner.Run<sbyte, float>(OrtModels.Dequantize(opset, OrtModels.Int8, AxisShape, scales, zps, axis: 1), s8, AxisShape), ours, s8);
    }

    [Fact]
    public void OrtMapsNaNToQMinAndInfinitiesToTheLimits()
    {
        // Pins ORT's behaviour that our kernels copy (see Kernels.Quantize): NaN -> qmin, ±inf -> limits.
        var x = Enumerable.Range(0, 1000).Select(i => (i % 3) switch { 0 => float.NaN, 1 => float.PositiveInfinity, _ => float.NegativeInfinity }).ToArray();
        var y = OrtRunner.Run<float, byte>(OrtModels.Quantize(21, OrtModels.UInt8, new long[] { x.Length }, new[] { 1f }, new long[] { 100 }), x, new long[] { x.Length });
        for (int i = 0; i < x.Length; i++) Assert.Equal(i % 3 == 1 ? 255 : 0, y[i]);
        var s = OrtRunner.Run<float, sbyte>(OrtModels.Quantize(13, OrtModels.Int8, new long[] { x.Length }, new[] { 1f }, new long[] { 0 }), x, new long[] { x.Length });
        for (int i = 0; i < x.Length; i++) Assert.Equal(i % 3 == 1 ? 127 : -128, s[i]);
    }

    private static void AssertEqual<T, TIn>(T[] expected, T[] actual, TIn[] input)
    {
        Assert.Equal(expected.Length, actual.Length);
        var cmp = EqualityComparer<T>.Default;
        int mismatches = 0, first = -1;
        for (int i = 0; i < expected.Length; i++)
            if (!cmp.Equals(expected[i], actual[i])) { mismatches++; if (first < 0) first = i; }
        if (mismatches > 0)
            Assert.Fail($"{mismatches} mismatches; first at {first}: input {input[first]}, ORT {expected[first]}, ours {actual[first]}");
    }

    private static void AssertEqual(float[] expected, float[] actual, Array input)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"first mismatch at {i}: input {input.GetValue(i)}, ORT {expected[i]:R}, ours {actual[i]:R}");
    }
}
