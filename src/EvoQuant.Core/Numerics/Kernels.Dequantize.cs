using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EvoQuant.Numerics;

public static partial class Kernels
{
    /// <summary>
    /// ONNX DequantizeLinear, per tensor: <c>x = (float)(y - zeroPoint) * scale</c>, the subtraction in
    /// int32 and one float multiply, as ONNX Runtime computes it.
    /// </summary>
    /// <exception cref="ArgumentException">x shorter than y, or the buffers overlap.</exception>
    public static void Dequantize(ReadOnlySpan<sbyte> y, Span<float> x, float scale, sbyte zeroPoint)
    {
        CheckDestination(y, x, nameof(x));
        IntToFloat<DequantizeOperator, sbyte, SByteStorage>(y, x, new DequantizeOperator(scale, zeroPoint));
    }

    /// <inheritdoc cref="Dequantize(ReadOnlySpan{sbyte}, Span{float}, float, sbyte)"/>
    public static void Dequantize(ReadOnlySpan<byte> y, Span<float> x, float scale, byte zeroPoint)
    {
        CheckDestination(y, x, nameof(x));
        IntToFloat<DequantizeOperator, byte, ByteStorage>(y, x, new DequantizeOperator(scale, zeroPoint));
    }

    /// <inheritdoc cref="Dequantize(ReadOnlySpan{sbyte}, Span{float}, float, sbyte)"/>
    public static void Dequantize(ReadOnlySpan<short> y, Span<float> x, float scale, short zeroPoint)
    {
        CheckDestination(y, x, nameof(x));
        IntToFloat<DequantizeOperator, short, Int16Storage>(y, x, new DequantizeOperator(scale, zeroPoint));
    }

    /// <inheritdoc cref="Dequantize(ReadOnlySpan{sbyte}, Span{float}, float, sbyte)"/>
    public static void Dequantize(ReadOnlySpan<ushort> y, Span<float> x, float scale, ushort zeroPoint)
    {
        CheckDestination(y, x, nameof(x));
        IntToFloat<DequantizeOperator, ushort, UInt16Storage>(y, x, new DequantizeOperator(scale, zeroPoint));
    }

    /// <summary>Dequantizes int32 data (quantized biases); <c>y - zeroPoint</c> wraps like C int32 and the
    /// conversion to float rounds to nearest.</summary>
    public static void Dequantize(ReadOnlySpan<int> y, Span<float> x, float scale, int zeroPoint = 0)
    {
        CheckDestination(y, x, nameof(x));
        IntToFloat<DequantizeOperator, int, Int32Storage>(y, x, new DequantizeOperator(scale, zeroPoint));
    }

    internal readonly struct DequantizeOperator(float scale, int zeroPoint) : IIntToFloatOperator
    {
        private readonly float _scale = scale;
        private readonly int _zp = zeroPoint;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Invoke(int q) => (float)unchecked(q - _zp) * _scale;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector128<float> Invoke(Vector128<int> q) => Vector128.ConvertToSingle(q - Vector128.Create(_zp)) * Vector128.Create(_scale);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<float> Invoke(Vector256<int> q) => Vector256.ConvertToSingle(q - Vector256.Create(_zp)) * Vector256.Create(_scale);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Invoke(Vector512<int> q) => Vector512.ConvertToSingle(q - Vector512.Create(_zp)) * Vector512.Create(_scale);
    }
}
