namespace EvoQuant.Numerics;

public static partial class Kernels
{
    // Per-axis (per-channel) variants view the tensor as [outer, axisSize, inner] and run the per-tensor
    // driver over each contiguous inner run with that channel's scale and zero point.
    // An empty zeroPoints span means zero points of 0.

    /// <summary>ONNX QuantizeLinear with 1-D scale / zero point along an axis.</summary>
    /// <param name="x">Row-major data, length a multiple of axisSize * innerSize.</param>
    /// <param name="axisSize">Size of the quantization axis (number of channels).</param>
    /// <param name="innerSize">Product of the dimensions after the axis.</param>
    /// <exception cref="ArgumentException">Lengths inconsistent with axisSize/innerSize.</exception>
    public static void QuantizePerAxis(ReadOnlySpan<float> x, Span<sbyte> y, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<sbyte> zeroPoints)
    {
        CheckDestination(x, y, nameof(y));
        long outer = CheckPerAxis(x.Length, axisSize, innerSize, scales.Length, zeroPoints.Length);
        for (long o = 0; o < outer; o++)
            for (int c = 0; c < axisSize; c++)
            {
                int start = (int)((o * axisSize + c) * innerSize);
                var op = new QuantizeOperator(scales[c], zeroPoints.IsEmpty ? 0 : zeroPoints[c], sbyte.MinValue, sbyte.MaxValue);
                FloatToInt<QuantizeOperator, sbyte, SByteStorage>(x.Slice(start, innerSize), y.Slice(start, innerSize), op);
            }
    }

    /// <inheritdoc cref="QuantizePerAxis(ReadOnlySpan{float}, Span{sbyte}, int, int, ReadOnlySpan{float}, ReadOnlySpan{sbyte})"/>
    public static void QuantizePerAxis(ReadOnlySpan<float> x, Span<byte> y, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<byte> zeroPoints)
    {
        CheckDestination(x, y, nameof(y));
        long outer = CheckPerAxis(x.Length, axisSize, innerSize, scales.Length, zeroPoints.Length);
        for (long o = 0; o < outer; o++)
            for (int c = 0; c < axisSize; c++)
            {
                int start = (int)((o * axisSize + c) * innerSize);
                var op = new QuantizeOperator(scales[c], zeroPoints.IsEmpty ? 0 : zeroPoints[c], byte.MinValue, byte.MaxValue);
                FloatToInt<QuantizeOperator, byte, ByteStorage>(x.Slice(start, innerSize), y.Slice(start, innerSize), op);
            }
    }

    /// <inheritdoc cref="QuantizePerAxis(ReadOnlySpan{float}, Span{sbyte}, int, int, ReadOnlySpan{float}, ReadOnlySpan{sbyte})"/>
    public static void QuantizePerAxis(ReadOnlySpan<float> x, Span<short> y, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<short> zeroPoints)
    {
        CheckDestination(x, y, nameof(y));
        long outer = CheckPerAxis(x.Length, axisSize, innerSize, scales.Length, zeroPoints.Length);
        for (long o = 0; o < outer; o++)
            for (int c = 0; c < axisSize; c++)
            {
                int start = (int)((o * axisSize + c) * innerSize);
                var op = new QuantizeOperator(scales[c], zeroPoints.IsEmpty ? 0 : zeroPoints[c], short.MinValue, short.MaxValue);
                FloatToInt<QuantizeOperator, short, Int16Storage>(x.Slice(start, innerSize), y.Slice(start, innerSize), op);
            }
    }

    /// <inheritdoc cref="QuantizePerAxis(ReadOnlySpan{float}, Span{sbyte}, int, int, ReadOnlySpan{float}, ReadOnlySpan{sbyte})"/>
    public static void QuantizePerAxis(ReadOnlySpan<float> x, Span<ushort> y, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<ushort> zeroPoints)
    {
        CheckDestination(x, y, nameof(y));
        long outer = CheckPerAxis(x.Length, axisSize, innerSize, scales.Length, zeroPoints.Length);
        for (long o = 0; o < outer; o++)
            for (int c = 0; c < axisSize; c++)
            {
                int start = (int)((o * axisSize + c) * innerSize);
                var op = new QuantizeOperator(scales[c], zeroPoints.IsEmpty ? 0 : zeroPoints[c], ushort.MinValue, ushort.MaxValue);
                FloatToInt<QuantizeOperator, ushort, UInt16Storage>(x.Slice(start, innerSize), y.Slice(start, innerSize), op);
            }
    }

    /// <summary>ONNX DequantizeLinear with 1-D scale / zero point along an axis (layout as QuantizePerAxis).</summary>
    public static void DequantizePerAxis(ReadOnlySpan<sbyte> y, Span<float> x, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<sbyte> zeroPoints)
    {
        CheckDestination(y, x, nameof(x));
        long outer = CheckPerAxis(y.Length, axisSize, innerSize, scales.Length, zeroPoints.Length);
        for (long o = 0; o < outer; o++)
            for (int c = 0; c < axisSize; c++)
            {
                int start = (int)((o * axisSize + c) * innerSize);
                var op = new DequantizeOperator(scales[c], zeroPoints.IsEmpty ? 0 : zeroPoints[c]);
                IntToFloat<DequantizeOperator, sbyte, SByteStorage>(y.Slice(start, innerSize), x.Slice(start, innerSize), op);
            }
    }

    /// <inheritdoc cref="DequantizePerAxis(ReadOnlySpan{sbyte}, Span{float}, int, int, ReadOnlySpan{float}, ReadOnlySpan{sbyte})"/>
    public static void DequantizePerAxis(ReadOnlySpan<byte> y, Span<float> x, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<byte> zeroPoints)
    {
        CheckDestination(y, x, nameof(x));
        long outer = CheckPerAxis(y.Length, axisSize, innerSize, scales.Length, zeroPoints.Length);
        for (long o = 0; o < outer; o++)
            for (int c = 0; c < axisSize; c++)
            {
                int start = (int)((o * axisSize + c) * innerSize);
                var op = new DequantizeOperator(scales[c], zeroPoints.IsEmpty ? 0 : zeroPoints[c]);
                IntToFloat<DequantizeOperator, byte, ByteStorage>(y.Slice(start, innerSize), x.Slice(start, innerSize), op);
            }
    }

    /// <inheritdoc cref="DequantizePerAxis(ReadOnlySpan{sbyte}, Span{float}, int, int, ReadOnlySpan{float}, ReadOnlySpan{sbyte})"/>
    public static void DequantizePerAxis(ReadOnlySpan<short> y, Span<float> x, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<short> zeroPoints)
    {
        CheckDestination(y, x, nameof(x));
        long outer = CheckPerAxis(y.Length, axisSize, innerSize, scales.Length, zeroPoints.Length);
        for (long o = 0; o < outer; o++)
            for (int c = 0; c < axisSize; c++)
            {
                int start = (int)((o * axisSize + c) * innerSize);
                var op = new DequantizeOperator(scales[c], zeroPoints.IsEmpty ? 0 : zeroPoints[c]);
                IntToFloat<DequantizeOperator, short, Int16Storage>(y.Slice(start, innerSize), x.Slice(start, innerSize), op);
            }
    }

    /// <inheritdoc cref="DequantizePerAxis(ReadOnlySpan{sbyte}, Span{float}, int, int, ReadOnlySpan{float}, ReadOnlySpan{sbyte})"/>
    public static void DequantizePerAxis(ReadOnlySpan<ushort> y, Span<float> x, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<ushort> zeroPoints)
    {
        CheckDestination(y, x, nameof(x));
        long outer = CheckPerAxis(y.Length, axisSize, innerSize, scales.Length, zeroPoints.Length);
        for (long o = 0; o < outer; o++)
            for (int c = 0; c < axisSize; c++)
            {
                int start = (int)((o * axisSize + c) * innerSize);
                var op = new DequantizeOperator(scales[c], zeroPoints.IsEmpty ? 0 : zeroPoints[c]);
                IntToFloat<DequantizeOperator, ushort, UInt16Storage>(y.Slice(start, innerSize), x.Slice(start, innerSize), op);
            }
    }

    /// <summary>Per-channel int32 dequantization (biases with a per-channel scale, zero point 0).</summary>
    public static void DequantizePerAxis(ReadOnlySpan<int> y, Span<float> x, int axisSize, int innerSize, ReadOnlySpan<float> scales, ReadOnlySpan<int> zeroPoints)
    {
        CheckDestination(y, x, nameof(x));
        long outer = CheckPerAxis(y.Length, axisSize, innerSize, scales.Length, zeroPoints.Length);
        for (long o = 0; o < outer; o++)
            for (int c = 0; c < axisSize; c++)
            {
                int start = (int)((o * axisSize + c) * innerSize);
                var op = new DequantizeOperator(scales[c], zeroPoints.IsEmpty ? 0 : zeroPoints[c]);
                IntToFloat<DequantizeOperator, int, Int32Storage>(y.Slice(start, innerSize), x.Slice(start, innerSize), op);
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
