using System.Runtime.InteropServices;
using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Evaluation;

/// <summary>Reads an integer constant of a quantized model back to float with the project's dequantize
/// kernels (per tensor or per axis), as ONNX Runtime's DequantizeLinear computes it.</summary>
internal static class QuantizedConstant
{
    /// <summary>(q - zero point) * scale; null for encodings the kernels do not read (4-bit, blocked, float8)
    /// or parameters that do not fit the tensor.</summary>
    /// <param name="axis">The channel axis of per-channel parameters; null for one scale.</param>
    public static float[]? Dequantize(OnnxModel model, TensorProto quantized, TensorProto scale, TensorProto? zeroPoint, int? axis)
    {
        float[] scales;
        byte[] raw, zeroRaw;
        try
        {
            scales = model.GetFloats(scale);
            raw = model.GetRawBytes(quantized);
            zeroRaw = zeroPoint != null ? model.GetRawBytes(zeroPoint) : Array.Empty<byte>();
        }
        catch (NotSupportedException) { return null; }
        if (zeroPoint != null && zeroPoint.DataType != quantized.DataType) return null;
        long count = TensorData.ElementCount(quantized);
        var result = new float[count];
        if (scales.Length == 1)
        {
            return quantized.DataType switch
            {
                ElementTypes.Int8 => PerTensor<sbyte>(raw, zeroRaw, scales[0], result, (y, x, s, z) => Kernels.Dequantize(y, x, s, z)),
                ElementTypes.UInt8 => PerTensor<byte>(raw, zeroRaw, scales[0], result, (y, x, s, z) => Kernels.Dequantize(y, x, s, z)),
                ElementTypes.Int16 => PerTensor<short>(raw, zeroRaw, scales[0], result, (y, x, s, z) => Kernels.Dequantize(y, x, s, z)),
                ElementTypes.UInt16 => PerTensor<ushort>(raw, zeroRaw, scales[0], result, (y, x, s, z) => Kernels.Dequantize(y, x, s, z)),
                ElementTypes.Int32 => PerTensor<int>(raw, zeroRaw, scales[0], result, (y, x, s, z) => Kernels.Dequantize(y, x, s, z)),
                _ => null,
            };
        }
        if (axis is not int a || quantized.Dims.Count == 0) return null;
        int channels;
        long inner;
        try { (_, channels, inner) = AxisLayout.Split(quantized.Dims.ToArray(), a, (int)count); }
        catch (ArgumentException) { return null; }
        if (channels != scales.Length || inner > int.MaxValue) return null;
        int n = (int)inner;
        return quantized.DataType switch
        {
            ElementTypes.Int8 => PerAxis<sbyte>(raw, zeroRaw, channels, scales, result, (y, x, z) => Kernels.DequantizePerAxis(y, x, channels, n, scales, z)),
            ElementTypes.UInt8 => PerAxis<byte>(raw, zeroRaw, channels, scales, result, (y, x, z) => Kernels.DequantizePerAxis(y, x, channels, n, scales, z)),
            ElementTypes.Int16 => PerAxis<short>(raw, zeroRaw, channels, scales, result, (y, x, z) => Kernels.DequantizePerAxis(y, x, channels, n, scales, z)),
            ElementTypes.UInt16 => PerAxis<ushort>(raw, zeroRaw, channels, scales, result, (y, x, z) => Kernels.DequantizePerAxis(y, x, channels, n, scales, z)),
            ElementTypes.Int32 => PerAxis<int>(raw, zeroRaw, channels, scales, result, (y, x, z) => Kernels.DequantizePerAxis(y, x, channels, n, scales, z)),
            _ => null,
        };
    }

    private delegate void PerTensorKernel<T>(ReadOnlySpan<T> y, Span<float> x, float scale, T zeroPoint);

    private delegate void PerAxisKernel<T>(ReadOnlySpan<T> y, Span<float> x, ReadOnlySpan<T> zeroPoints);

    private static float[]? PerTensor<T>(byte[] raw, byte[] zeroRaw, float scale, float[] result, PerTensorKernel<T> kernel) where T : unmanaged
    {
        var y = MemoryMarshal.Cast<byte, T>(raw);
        var z = MemoryMarshal.Cast<byte, T>(zeroRaw);
        if (y.Length != result.Length || z.Length > 1) return null;
        kernel(y, result, scale, z.Length == 1 ? z[0] : default);
        return result;
    }

    private static float[]? PerAxis<T>(byte[] raw, byte[] zeroRaw, int channels, float[] scales, float[] result, PerAxisKernel<T> kernel) where T : unmanaged
    {
        var y = MemoryMarshal.Cast<byte, T>(raw);
        var z = MemoryMarshal.Cast<byte, T>(zeroRaw);
        if (y.Length != result.Length || (z.Length != 0 && z.Length != channels) || scales.Length != channels) return null;
        kernel(y, result, z);
        return result;
    }
}
