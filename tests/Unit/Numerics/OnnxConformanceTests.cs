using EvoQuant.Numerics;
using EvoQuant.Onnx.Proto;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Numerics;

/// <summary>
/// The ONNX conformance node tests for QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear
/// (Debian libonnx-testdata), run through our kernels and compared exactly.
/// </summary>
[Trait("Category", "TestData")]
public class OnnxConformanceTests
{
    private const string Missing = "<libonnx-testdata missing>";

    /// <summary>Every matching case directory. Float8 cases (test_*_e4m3fn, *_e5m2 ...) are filtered out:
    /// we do not quantize to float8. A missing data folder yields one case that fails.</summary>
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        if (!Directory.Exists(TestData.OnnxNodeTests)) { data.Add(Missing); return data; }
        foreach (var dir in Directory.GetDirectories(TestData.OnnxNodeTests).Select(Path.GetFileName).Order())
        {
            if (dir is null) continue;
            bool match = dir.StartsWith("test_quantizelinear") || dir.StartsWith("test_dequantizelinear") || dir.StartsWith("test_dynamicquantizelinear");
            bool float8 = dir.Contains("e4m3") || dir.Contains("e5m2") || dir.Contains("float8") || dir.Contains("fp8");
            if (match && !float8) data.Add(dir);
        }
        return data;
    }

    [Fact]
    public void TheSuiteIsInstalledAndHasTheExpectedCases()
    {
        TestData.Require(TestData.OnnxNodeTests);
        var names = ((IEnumerable<object[]>)Cases()).Select(c => (string)c[0]).ToArray();
        // The Debian package ships at least these; a newer one may ship more (int4, int16, blocked).
        foreach (var expected in new[] { "test_quantizelinear", "test_quantizelinear_axis", "test_dequantizelinear",
                     "test_dequantizelinear_axis", "test_dynamicquantizelinear", "test_dynamicquantizelinear_max_adjusted",
                     "test_dynamicquantizelinear_min_adjusted" })
            Assert.Contains(expected, names);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesOnnxExpectedOutput(string caseName)
    {
        Assert.NotEqual(Missing, caseName);
        string dir = Path.Combine(TestData.Require(TestData.OnnxNodeTests), caseName);
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(dir, "model.onnx")));
        string set = Path.Combine(dir, "test_data_set_0");
        var inputs = Directory.GetFiles(set, "input_*.pb").Order().Select(TensorProtoArrays.Load).ToArray();
        var outputs = Directory.GetFiles(set, "output_*.pb").Order().Select(TensorProtoArrays.Load).ToArray();

        if (caseName.StartsWith("test_dynamicquantizelinear")) CheckDynamic(inputs, outputs);
        else
        {
            var node = model.Graph.Node.Single(n => n.OpType is "QuantizeLinear" or "DequantizeLinear");
            long axis = node.Attribute.FirstOrDefault(a => a.Name == "axis")?.I ?? 1;
            long blockSize = node.Attribute.FirstOrDefault(a => a.Name == "block_size")?.I ?? 0;
            Assert.True(blockSize == 0, "Blocked quantization (opset 21 block_size) is not a kernel we provide.");
            if (node.OpType == "QuantizeLinear") CheckQuantize(inputs, outputs[0], (int)axis);
            else CheckDequantize(inputs, outputs[0], (int)axis);
        }
    }

    private static void CheckQuantize(TensorProto[] inputs, TensorProto expected, int axis)
    {
        float[] x = TensorProtoArrays.Floats(inputs[0]);
        float[] scales = TensorProtoArrays.Floats(inputs[1]);
        int[] zps = inputs.Length > 2 ? TensorProtoArrays.Ints(inputs[2]) : new int[scales.Length];
        var type = QuantTypeInfo.FromOnnxDataType(expected.DataType);
        int[] want = TensorProtoArrays.Ints(expected);

        var (outer, channels, inner) = Layout(inputs[0], inputs[1], axis);
        int[] got = new int[x.Length];
        if (type is QuantType.Int4 or QuantType.UInt4)
        {
            Assert.Single(scales);
            var packed = new byte[Kernels.Int4ByteCount(x.Length)];
            Kernels.QuantizeInt4(x, packed, scales[0], zps[0], type == QuantType.Int4);
            Assert.Equal(TensorProtoArrays.PackedInt4(expected), packed);
            return;
        }
        switch (type)
        {
            case QuantType.Int8:
            {
                var y = new sbyte[x.Length];
                Kernels.QuantizePerAxis(x, y, channels, inner, scales, zps.Select(v => (sbyte)v).ToArray());
                if (scales.Length == 1) { var y1 = new sbyte[x.Length]; Kernels.Quantize(x, y1, scales[0], (sbyte)zps[0]); Assert.Equal(y, y1); }
                got = y.Select(v => (int)v).ToArray();
                break;
            }
            case QuantType.UInt8:
            {
                var y = new byte[x.Length];
                Kernels.QuantizePerAxis(x, y, channels, inner, scales, zps.Select(v => (byte)v).ToArray());
                if (scales.Length == 1) { var y1 = new byte[x.Length]; Kernels.Quantize(x, y1, scales[0], (byte)zps[0]); Assert.Equal(y, y1); }
                got = y.Select(v => (int)v).ToArray();
                break;
            }
            case QuantType.Int16:
            {
                var y = new short[x.Length];
                Kernels.QuantizePerAxis(x, y, channels, inner, scales, zps.Select(v => (short)v).ToArray());
                got = y.Select(v => (int)v).ToArray();
                break;
            }
            case QuantType.UInt16:
            {
                var y = new ushort[x.Length];
                Kernels.QuantizePerAxis(x, y, channels, inner, scales, zps.Select(v => (ushort)v).ToArray());
                got = y.Select(v => (int)v).ToArray();
                break;
            }
            default: throw new InvalidOperationException($"Unexpected output type {type}.");
        }
        Assert.Equal(want, got);
        _ = outer;
    }

    private static void CheckDequantize(TensorProto[] inputs, TensorProto expected, int axis)
    {
        float[] want = TensorProtoArrays.Floats(expected);
        float[] scales = TensorProtoArrays.Floats(inputs[1]);
        var type = QuantTypeInfo.FromOnnxDataType(inputs[0].DataType);
        int[] q = TensorProtoArrays.Ints(inputs[0]);
        int[] zps = inputs.Length > 2 ? TensorProtoArrays.Ints(inputs[2]) : new int[scales.Length];
        var (_, channels, inner) = Layout(inputs[0], inputs[1], axis);
        var got = new float[q.Length];
        switch (type)
        {
            case QuantType.Int8: Kernels.DequantizePerAxis(q.Select(v => (sbyte)v).ToArray(), got, channels, inner, scales, zps.Select(v => (sbyte)v).ToArray()); break;
            case QuantType.UInt8: Kernels.DequantizePerAxis(q.Select(v => (byte)v).ToArray(), got, channels, inner, scales, zps.Select(v => (byte)v).ToArray()); break;
            case QuantType.Int16: Kernels.DequantizePerAxis(q.Select(v => (short)v).ToArray(), got, channels, inner, scales, zps.Select(v => (short)v).ToArray()); break;
            case QuantType.UInt16: Kernels.DequantizePerAxis(q.Select(v => (ushort)v).ToArray(), got, channels, inner, scales, zps.Select(v => (ushort)v).ToArray()); break;
            case QuantType.Int32: Kernels.DequantizePerAxis(q, got, channels, inner, scales, zps); break;
            case QuantType.Int4 or QuantType.UInt4:
                Assert.Single(scales);
                Kernels.DequantizeInt4(TensorProtoArrays.PackedInt4(inputs[0]), got, scales[0], zps[0], type == QuantType.Int4);
                break;
        }
        Assert.Equal(want.Select(BitConverter.SingleToInt32Bits), got.Select(BitConverter.SingleToInt32Bits));
    }

    /// <summary>DynamicQuantizeLinear as the ONNX spec computes it in float32: uint8, range widened to include
    /// 0, scale = (max - min) / 255, zp = saturate(round(0 - min / scale)), then QuantizeLinear.</summary>
    private static void CheckDynamic(TensorProto[] inputs, TensorProto[] outputs)
    {
        float[] x = TensorProtoArrays.Floats(inputs[0]);
        var (mn, mx) = Kernels.MinMax(x);
        mn = MathF.Min(mn, 0f);
        mx = MathF.Max(mx, 0f);
        float scale = (mx - mn) / 255f;
        float zpf = MathF.Round(0f - mn / scale, MidpointRounding.ToEven);
        byte zp = (byte)Math.Clamp(zpf, 0f, 255f);
        var y = new byte[x.Length];
        Kernels.Quantize(x, y, scale, zp);

        Assert.Equal(TensorProtoArrays.Ints(outputs[0]), y.Select(v => (int)v).ToArray());
        Assert.Equal(BitConverter.SingleToInt32Bits(TensorProtoArrays.Floats(outputs[1])[0]), BitConverter.SingleToInt32Bits(scale));
        Assert.Equal(TensorProtoArrays.Ints(outputs[2])[0], zp);
    }

    /// <summary>[outer, channels, inner] for the scale's rank: scalar scale = one channel.</summary>
    private static (long Outer, int Channels, int Inner) Layout(TensorProto x, TensorProto scale, int axis)
    {
        long n = TensorProtoArrays.ElementCount(x);
        if (scale.Dims.Count == 0 || TensorProtoArrays.ElementCount(scale) == 1 && scale.Dims.Count == 0)
            return (1, 1, (int)n);
        var (outer, channels, inner) = AxisLayout.Split(TensorProtoArrays.Shape(x), axis, (int)n);
        return (outer, channels, (int)inner);
    }
}
