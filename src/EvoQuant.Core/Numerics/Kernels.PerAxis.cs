namespace EvoQuant.Numerics;

public static partial class Kernels
{
    // Per-axis (per-channel) variants view the tensor as [outer, axisSize, inner] and run the per-tensor
    // driver over each contiguous inner run with that channel's scale and zero point.
    // An empty zeroPoints span means zero points of 0.

    /// <summary>ONNX QuantizeLinear with 1-D scale / zero point along an axis.</summary>
    /// <param name="x">Row-major data, length a multiple of axisSize * innerSize.</param>
    /// <param name="y">Destination, at least as long as x.</param>
    /// <param name="axisSize">Size of the quantization axis (number of channels).</param>
    /// <param name="innerSize">Product of the dimensions after the axis.</param>
    /// <param name="scales">One scale per channel.</param>
    /// <param name="zeroPoints">One zero point per channel, or empty for zeros.</param>
    /// <exception cref="ArgumentException">Lengths inconsistent with axisSize/innerSize.</exception>
    public static void QuantizePerAxis(ReadOnlySpan<float> x, Span<sbyte> y, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<sbyte> zeroPoints)
    {
        CheckDestination(x, y, nameof(y));
        var ops = QuantizeOps<sbyte, SByteStorage>(x.Length, axisSize, innerSize, scales, zeroPoints, sbyte.MinValue, sbyte.MaxValue);
        QuantizePerAxis<sbyte, SByteStorage>(x, y, innerSize, ops);
    }

    /// <inheritdoc cref="QuantizePerAxis(ReadOnlySpan{float}, Span{sbyte}, int, int, ReadOnlySpan{float}, ReadOnlySpan{sbyte})"/>
    public static void QuantizePerAxis(ReadOnlySpan<float> x, Span<byte> y, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<byte> zeroPoints)
    {
        CheckDestination(x, y, nameof(y));
        var ops = QuantizeOps<byte, ByteStorage>(x.Length, axisSize, innerSize, scales, zeroPoints, byte.MinValue, byte.MaxValue);
        QuantizePerAxis<byte, ByteStorage>(x, y, innerSize, ops);
    }

    /// <inheritdoc cref="QuantizePerAxis(ReadOnlySpan{float}, Span{sbyte}, int, int, ReadOnlySpan{float}, ReadOnlySpan{sbyte})"/>
    public static void QuantizePerAxis(ReadOnlySpan<float> x, Span<short> y, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<short> zeroPoints)
    {
        CheckDestination(x, y, nameof(y));
        var ops = QuantizeOps<short, Int16Storage>(x.Length, axisSize, innerSize, scales, zeroPoints, short.MinValue, short.MaxValue);
        QuantizePerAxis<short, Int16Storage>(x, y, innerSize, ops);
    }

    /// <inheritdoc cref="QuantizePerAxis(ReadOnlySpan{float}, Span{sbyte}, int, int, ReadOnlySpan{float}, ReadOnlySpan{sbyte})"/>
    public static void QuantizePerAxis(ReadOnlySpan<float> x, Span<ushort> y, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<ushort> zeroPoints)
    {
        CheckDestination(x, y, nameof(y));
        var ops = QuantizeOps<ushort, UInt16Storage>(x.Length, axisSize, innerSize, scales, zeroPoints, ushort.MinValue, ushort.MaxValue);
        QuantizePerAxis<ushort, UInt16Storage>(x, y, innerSize, ops);
    }

    /// <summary>ONNX DequantizeLinear with 1-D scale / zero point along an axis (layout as QuantizePerAxis).</summary>
    /// <param name="y">Quantized row-major data, length a multiple of axisSize * innerSize.</param>
    /// <param name="x">Destination, at least as long as y.</param>
    /// <param name="axisSize">Size of the quantization axis (number of channels).</param>
    /// <param name="innerSize">Product of the dimensions after the axis.</param>
    /// <param name="scales">One scale per channel.</param>
    /// <param name="zeroPoints">One zero point per channel, or empty for zeros.</param>
    public static void DequantizePerAxis(ReadOnlySpan<sbyte> y, Span<float> x, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<sbyte> zeroPoints)
    {
        CheckDestination(y, x, nameof(x));
        var ops = DequantizeOps<sbyte, SByteStorage>(y.Length, axisSize, innerSize, scales, zeroPoints);
        DequantizePerAxis<sbyte, SByteStorage>(y, x, innerSize, ops);
    }

    /// <inheritdoc cref="DequantizePerAxis(ReadOnlySpan{sbyte}, Span{float}, int, int, ReadOnlySpan{float}, ReadOnlySpan{sbyte})"/>
    public static void DequantizePerAxis(ReadOnlySpan<byte> y, Span<float> x, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<byte> zeroPoints)
    {
        CheckDestination(y, x, nameof(x));
        var ops = DequantizeOps<byte, ByteStorage>(y.Length, axisSize, innerSize, scales, zeroPoints);
        DequantizePerAxis<byte, ByteStorage>(y, x, innerSize, ops);
    }

    /// <inheritdoc cref="DequantizePerAxis(ReadOnlySpan{sbyte}, Span{float}, int, int, ReadOnlySpan{float}, ReadOnlySpan{sbyte})"/>
    public static void DequantizePerAxis(ReadOnlySpan<short> y, Span<float> x, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<short> zeroPoints)
    {
        CheckDestination(y, x, nameof(x));
        var ops = DequantizeOps<short, Int16Storage>(y.Length, axisSize, innerSize, scales, zeroPoints);
        DequantizePerAxis<short, Int16Storage>(y, x, innerSize, ops);
    }

    /// <inheritdoc cref="DequantizePerAxis(ReadOnlySpan{sbyte}, Span{float}, int, int, ReadOnlySpan{float}, ReadOnlySpan{sbyte})"/>
    public static void DequantizePerAxis(ReadOnlySpan<ushort> y, Span<float> x, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<ushort> zeroPoints)
    {
        CheckDestination(y, x, nameof(x));
        var ops = DequantizeOps<ushort, UInt16Storage>(y.Length, axisSize, innerSize, scales, zeroPoints);
        DequantizePerAxis<ushort, UInt16Storage>(y, x, innerSize, ops);
    }

    /// <summary>Per-channel int32 dequantization (biases with a per-channel scale, zero point 0).</summary>
    /// <inheritdoc cref="DequantizePerAxis(ReadOnlySpan{sbyte}, Span{float}, int, int, ReadOnlySpan{float}, ReadOnlySpan{sbyte})"/>
    public static void DequantizePerAxis(ReadOnlySpan<int> y, Span<float> x, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<int> zeroPoints)
    {
        CheckDestination(y, x, nameof(x));
        var ops = DequantizeOps<int, Int32Storage>(y.Length, axisSize, innerSize, scales, zeroPoints);
        DequantizePerAxis<int, Int32Storage>(y, x, innerSize, ops);
    }

    // One operator per channel, validated once (not once per outer slice).
    private static QuantizeOperator[] QuantizeOps<T, TStore>(int length, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<T> zeroPoints, int qmin, int qmax)
        where T : unmanaged where TStore : struct, IQuantStorage<T>
    {
        CheckPerAxis(length, axisSize, innerSize, scales.Length, zeroPoints.Length);
        var ops = new QuantizeOperator[axisSize];
        for (int c = 0; c < axisSize; c++) ops[c] = new QuantizeOperator(scales[c], zeroPoints.IsEmpty ? 0 : TStore.ToInt(zeroPoints[c]), qmin, qmax);
        return ops;
    }

    private static DequantizeOperator[] DequantizeOps<T, TStore>(int length, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<T> zeroPoints)
        where T : unmanaged where TStore : struct, IQuantStorage<T>
    {
        CheckPerAxis(length, axisSize, innerSize, scales.Length, zeroPoints.Length);
        var ops = new DequantizeOperator[axisSize];
        for (int c = 0; c < axisSize; c++) ops[c] = new DequantizeOperator(scales[c], zeroPoints.IsEmpty ? 0 : TStore.ToInt(zeroPoints[c]));
        return ops;
    }

    // Runs of fewer than one 128-bit vector (inner == 1 for a MatMul weight quantized along its last
    // axis) go element by element without the driver's setup; longer runs use the vector driver.
    private static void QuantizePerAxis<T, TStore>(ReadOnlySpan<float> x, Span<T> y, int inner, QuantizeOperator[] ops)
        where T : unmanaged where TStore : struct, IQuantStorage<T>
    {
        if (inner == 0) return;
        int channels = ops.Length;
        for (int start = 0, c = 0; start < x.Length; start += inner, c = c + 1 == channels ? 0 : c + 1)
        {
            if (inner < 4)
                for (int k = 0; k < inner; k++) y[start + k] = TStore.FromInt(ops[c].Invoke(x[start + k]));
            else
                FloatToInt<QuantizeOperator, T, TStore>(x.Slice(start, inner), y.Slice(start, inner), ops[c]);
        }
    }

    private static void DequantizePerAxis<T, TStore>(ReadOnlySpan<T> y, Span<float> x, int inner, DequantizeOperator[] ops)
        where T : unmanaged where TStore : struct, IQuantStorage<T>
    {
        if (inner == 0) return;
        int channels = ops.Length;
        for (int start = 0, c = 0; start < y.Length; start += inner, c = c + 1 == channels ? 0 : c + 1)
        {
            if (inner < 4)
                for (int k = 0; k < inner; k++) x[start + k] = ops[c].Invoke(TStore.ToInt(y[start + k]));
            else
                IntToFloat<DequantizeOperator, T, TStore>(y.Slice(start, inner), x.Slice(start, inner), ops[c]);
        }
    }

    /// <returns>The outer count.</returns>
    private static long CheckPerAxis(int length, int axisSize, int innerSize, int scaleCount, int zeroPointCount)
    {
        if (axisSize <= 0) throw new ArgumentOutOfRangeException(nameof(axisSize), axisSize, "Axis size must be positive.");
        if (innerSize < 0) throw new ArgumentOutOfRangeException(nameof(innerSize), innerSize, "Inner size must not be negative.");
        if (scaleCount != axisSize) throw new ArgumentException($"Expected {axisSize} scales, got {scaleCount}.", "scales");
        if (zeroPointCount != 0 && zeroPointCount != axisSize) throw new ArgumentException($"Expected {axisSize} zero points (or none), got {zeroPointCount}.", "zeroPoints");
        long block = (long)axisSize * innerSize;
        if (block == 0) return length == 0 ? 0 : throw new ArgumentException("Non-empty data with an inner size of 0.", nameof(innerSize));
        if (length % block != 0) throw new ArgumentException($"Length {length} is not a multiple of axisSize*innerSize = {block}.", "x");
        return length / block;
    }
}
