namespace EvoQuant.Numerics;

public static partial class Kernels
{
    // 4-bit tensors are packed two per byte, ONNX order: element 2i in the low nibble, 2i+1 in the high
    // nibble; an odd count leaves the last high nibble 0. We quantize/dequantize through a small int8
    // buffer with the vector drivers and (un)pack in a scalar pass: the packing is cheap next to the math.
    private const int Int4Chunk = 4096;

    /// <summary>Number of bytes holding <paramref name="count"/> packed 4-bit elements.</summary>
    public static int Int4ByteCount(int count) => (count + 1) / 2;

    /// <summary>ONNX QuantizeLinear to int4 (signed, [-8,7]) or uint4 ([0,15]), packed two per byte.</summary>
    /// <exception cref="ArgumentException">packed shorter than (x.Length + 1) / 2.</exception>
    public static void QuantizeInt4(ReadOnlySpan<float> x, Span<byte> packed, float scale, int zeroPoint, bool signed)
    {
        if (packed.Length < Int4ByteCount(x.Length))
            throw new ArgumentException($"Packed destination is too short: {packed.Length} < {Int4ByteCount(x.Length)}.", nameof(packed));
        var op = signed ? new QuantizeOperator(scale, zeroPoint, -8, 7) : new QuantizeOperator(scale, zeroPoint, 0, 15);

        Span<sbyte> buffer = stackalloc sbyte[Int4Chunk];
        for (int start = 0; start < x.Length; start += Int4Chunk)
        {
            int count = Math.Min(Int4Chunk, x.Length - start);
            var q = buffer[..count];
            FloatToInt<QuantizeOperator, sbyte, SByteStorage>(x.Slice(start, count), q, op);
            var dst = packed.Slice(start / 2, Int4ByteCount(count));
            int pairs = count / 2;
            for (int j = 0; j < pairs; j++)
                dst[j] = (byte)((q[2 * j] & 0xF) | (q[2 * j + 1] << 4));
            if ((count & 1) != 0)
                dst[pairs] = (byte)(q[count - 1] & 0xF);
        }
    }

    /// <summary>ONNX DequantizeLinear from packed int4/uint4; <c>x.Length</c> is the element count.</summary>
    /// <exception cref="ArgumentException">packed shorter than (x.Length + 1) / 2.</exception>
    public static void DequantizeInt4(ReadOnlySpan<byte> packed, Span<float> x, float scale, int zeroPoint, bool signed)
    {
        if (packed.Length < Int4ByteCount(x.Length))
            throw new ArgumentException($"Packed source is too short: {packed.Length} < {Int4ByteCount(x.Length)}.", nameof(packed));
        var op = new DequantizeOperator(scale, zeroPoint);

        Span<sbyte> buffer = stackalloc sbyte[Int4Chunk];
        for (int start = 0; start < x.Length; start += Int4Chunk)
        {
            int count = Math.Min(Int4Chunk, x.Length - start);
            var q = buffer[..count];
            var src = packed.Slice(start / 2, Int4ByteCount(count));
            for (int j = 0; j < count; j++)
            {
                int nibble = (src[j >> 1] >> ((j & 1) * 4)) & 0xF;
                q[j] = (sbyte)(signed ? (nibble ^ 8) - 8 : nibble);   // sign-extend bit 3 when signed
            }
            IntToFloat<DequantizeOperator, sbyte, SByteStorage>(q, x.Slice(start, count), op);
        }
    }
}
