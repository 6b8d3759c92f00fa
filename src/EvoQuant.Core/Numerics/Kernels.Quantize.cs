using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EvoQuant.Numerics;

public static partial class Kernels
{
    /// <summary>
    /// ONNX QuantizeLinear, per tensor: <c>y = saturate(round_half_to_even(x / scale) + zeroPoint)</c>.
    /// Bit-exact with ONNX Runtime's CPU kernel: it divides (not multiplies by 1/scale), so ties and
    /// near-ties round the same way. NaN maps to the type's minimum (what ORT's vector kernel gives),
    /// +inf to the maximum, -inf to the minimum.
    /// </summary>
    /// <exception cref="ArgumentException">y shorter than x, or the buffers overlap.</exception>
    /// <exception cref="ArgumentOutOfRangeException">scale is not a positive finite number.</exception>
    public static void Quantize(ReadOnlySpan<float> x, Span<sbyte> y, float scale, sbyte zeroPoint)
    {
        CheckDestination(x, y, nameof(y));
        FloatToInt<QuantizeOperator, sbyte, SByteStorage>(x, y, new QuantizeOperator(scale, zeroPoint, sbyte.MinValue, sbyte.MaxValue));
    }

    /// <inheritdoc cref="Quantize(ReadOnlySpan{float}, Span{sbyte}, float, sbyte)"/>
    public static void Quantize(ReadOnlySpan<float> x, Span<byte> y, float scale, byte zeroPoint)
    {
        CheckDestination(x, y, nameof(y));
        FloatToInt<QuantizeOperator, byte, ByteStorage>(x, y, new QuantizeOperator(scale, zeroPoint, byte.MinValue, byte.MaxValue));
    }

    /// <inheritdoc cref="Quantize(ReadOnlySpan{float}, Span{sbyte}, float, sbyte)"/>
    public static void Quantize(ReadOnlySpan<float> x, Span<short> y, float scale, short zeroPoint)
    {
        CheckDestination(x, y, nameof(y));
        FloatToInt<QuantizeOperator, short, Int16Storage>(x, y, new QuantizeOperator(scale, zeroPoint, short.MinValue, short.MaxValue));
    }

    /// <inheritdoc cref="Quantize(ReadOnlySpan{float}, Span{sbyte}, float, sbyte)"/>
    public static void Quantize(ReadOnlySpan<float> x, Span<ushort> y, float scale, ushort zeroPoint)
    {
        CheckDestination(x, y, nameof(y));
        FloatToInt<QuantizeOperator, ushort, UInt16Storage>(x, y, new QuantizeOperator(scale, zeroPoint, ushort.MinValue, ushort.MaxValue));
    }

    internal static void CheckScale(float scale, string name = "scale")
    {
        // x / 0 and x / NaN have no meaningful quantized value; negative scales are not ONNX.
        if (!(scale > 0f) || !float.IsFinite(scale))
            throw new ArgumentOutOfRangeException(name, scale, "Scale must be a positive finite number.");
    }

    /// <summary>
    /// <c>clamp(x / scale, qmin - zp, qmax - zp)</c>, rounded half to even, plus zp. Clamping before rounding
    /// equals rounding before saturating (the bounds are integers and rounding is monotonic), and it keeps
    /// |v| &lt; 2^22 so the 1.5*2^23 trick rounds exactly: adding it leaves round_half_even(v) in the low
    /// mantissa bits with the FPU's default rounding, and subtracting its bit pattern yields the integer.
    /// </summary>
    internal readonly struct QuantizeOperator : IFloatToIntOperator
    {
        private const float Magic = 12582912f;          // 1.5 * 2^23
        private const int MagicBits = 0x4B400000;       // BitConverter.SingleToInt32Bits(Magic)

        private readonly float _scale, _lo, _hi;
        private readonly int _bias;

        public QuantizeOperator(float scale, int zeroPoint, int qmin, int qmax)
        {
            CheckScale(scale);
            if (zeroPoint < qmin || zeroPoint > qmax)
                throw new ArgumentOutOfRangeException(nameof(zeroPoint), zeroPoint, $"Zero point outside [{qmin}, {qmax}].");
            _scale = scale;
            _lo = qmin - zeroPoint;
            _hi = qmax - zeroPoint;
            _bias = MagicBits - zeroPoint;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Invoke(float x)
        {
            float v = x / _scale;
            v = v > _lo ? v : _lo;   // NaN fails the compare and becomes the lower bound
            v = v < _hi ? v : _hi;
            return BitConverter.SingleToInt32Bits(v + Magic) - _bias;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector128<int> Invoke(Vector128<float> x)
        {
            var v = x / Vector128.Create(_scale);
            var lo = Vector128.Create(_lo);
            var hi = Vector128.Create(_hi);
            if (Sse.IsSupported)
            {
                v = Sse.Max(v, lo);
                v = Sse.Min(v, hi);
            }
            else
            {
                v = Vector128.ConditionalSelect(Vector128.GreaterThan(v, lo), v, lo);
                v = Vector128.ConditionalSelect(Vector128.LessThan(v, hi), v, hi);
            }
            return (v + Vector128.Create(Magic)).AsInt32() - Vector128.Create(_bias);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<int> Invoke(Vector256<float> x)
        {
            var v = x / Vector256.Create(_scale);
            var lo = Vector256.Create(_lo);
            var hi = Vector256.Create(_hi);
            if (Avx.IsSupported)
            {
                v = Avx.Max(v, lo);
                v = Avx.Min(v, hi);
            }
            else
            {
                v = Vector256.ConditionalSelect(Vector256.GreaterThan(v, lo), v, lo);
                v = Vector256.ConditionalSelect(Vector256.LessThan(v, hi), v, hi);
            }
            return (v + Vector256.Create(Magic)).AsInt32() - Vector256.Create(_bias);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<int> Invoke(Vector512<float> x)
        {
            var v = x / Vector512.Create(_scale);
            var lo = Vector512.Create(_lo);
            var hi = Vector512.Create(_hi);
            if (Avx512F.IsSupported)
            {
                // VMAXPS/VMINPS return the second operand when the first is NaN: same as the selects.
                v = Avx512F.Max(v, lo);
                v = Avx512F.Min(v, hi);
            }
            else
            {
                v = Vector512.ConditionalSelect(Vector512.GreaterThan(v, lo), v, lo);
                v = Vector512.ConditionalSelect(Vector512.LessThan(v, hi), v, hi);
            }
            return (v + Vector512.Create(Magic)).AsInt32() - Vector512.Create(_bias);
        }
    }
}
