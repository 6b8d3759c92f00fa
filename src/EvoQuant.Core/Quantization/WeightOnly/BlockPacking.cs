namespace EvoQuant.Quantization.WeightOnly;

/// <summary>The byte layouts of block-quantized weights, as ONNX Runtime and the ONNX standard read them.
/// MatMulNBits: B is [N, blocks, blob] with blob = BlockSize * Bits / 8, each column's codes packed along K,
/// two 4-bit codes per byte with the first in the low nibble; a block past K is padded with its zero point (it
/// dequantizes to 0). Its zero points are [N, ceil(blocks * Bits / 8)] packed the same way. ONNX int4/uint4
/// tensors pack consecutive elements of the flattened tensor the same way (first element low).</summary>
public static class BlockPacking
{
    public static int BlobSize(BlockQuantizationSpec spec) => spec.BlockSize * spec.Bits / 8;

    /// <summary>MatMulNBits' B: [N, blocks, blob] uint8, the layout the matrix holds its codes in (its own array, not a copy).</summary>
    public static byte[] MatMulNBitsWeight(BlockQuantizedMatrix m) => m.PackedCodes;

    /// <summary>MatMulNBits' (and GatherBlockQuantized's uint8) zero points: [N, ceil(blocks * bits / 8)] uint8.</summary>
    public static byte[] PackedZeroPoints(BlockQuantizedMatrix m)
    {
        int blocks = m.BlocksPerColumn;
        if (m.Spec.Bits == 8) return (byte[])m.ZeroPoints.Clone();
        int perColumn = (blocks + 1) / 2;
        var packed = new byte[(long)m.Columns * perColumn];
        for (int n = 0; n < m.Columns; n++)
            for (int b = 0; b < blocks; b++)
            {
                byte zp = m.ZeroPoints[(long)n * blocks + b];
                packed[(long)n * perColumn + b / 2] |= (byte)((b & 1) == 0 ? zp : zp << 4);
            }
        return packed;
    }

    /// <summary>GatherBlockQuantized's uint8 data for a table quantized as its transpose (K = embedding width, N = rows):
    /// [N, K * bits / 8], each row's codes packed along the row: each column of the matrix without its padding.
    /// K must be even for 4 bits.</summary>
    public static byte[] RowPackedCodes(BlockQuantizedMatrix m)
    {
        int row = m.Rows * m.Spec.Bits / 8, column = m.ColumnBytes;
        if (row == column) return m.PackedCodes;
        var packed = new byte[(long)m.Columns * row];
        for (int n = 0; n < m.Columns; n++) m.PackedCodes.AsSpan((int)((long)n * column), row).CopyTo(packed.AsSpan((int)((long)n * row), row));
        return packed;
    }

    /// <summary>True when every zero point is the symmetric one: the signed form with no zero point tensor says the same.</summary>
    public static bool HasSymmetricZeroPoints(BlockQuantizedMatrix m)
    {
        byte z = (byte)m.Spec.SymmetricZeroPoint;
        return m.ZeroPoints.AsSpan().IndexOfAnyExcept(z) < 0;
    }

    /// <summary>Codes as ONNX tensor data of the bit width: signed (code - <paramref name="zeroPoint"/>, two's complement)
    /// or unsigned; 4-bit values packed two per byte, first element in the low nibble.</summary>
    public static byte[] OnnxData(ReadOnlySpan<byte> codes, int bits, bool signed, int zeroPoint)
    {
        if (bits == 4) return PackNibbles(codes, zeroPoint, signed);
        var raw = new byte[codes.Length];
        for (int i = 0; i < codes.Length; i++) raw[i] = signed ? (byte)(sbyte)(codes[i] - zeroPoint) : codes[i];
        return raw;
    }

    private static byte[] PackNibbles(ReadOnlySpan<byte> codes, int zeroPoint, bool signed)
    {
        var packed = new byte[(codes.Length + 1) / 2];
        int shift = signed ? zeroPoint : 0;
        for (int i = 0; i < codes.Length; i++)
        {
            int v = (codes[i] - shift) & 0xF;
            packed[i >> 1] |= (byte)((i & 1) == 0 ? v : v << 4);
        }
        return packed;
    }

    /// <summary>The codes of a [K, N] matrix in the weight's own row-major order (the DequantizeLinear form's data).</summary>
    public static byte[] RowMajorCodes(BlockQuantizedMatrix m)
    {
        int k = m.Rows, n = m.Columns;
        var result = new byte[(long)k * n];
        for (int c = 0; c < n; c++)
            for (int r = 0; r < k; r++) result[(long)r * n + c] = m.Code(r, c);
        return result;
    }

    /// <summary>Per-block values stored [N, blocks] in the matrix, laid out [blocks, N] for a DequantizeLinear along axis 0.</summary>
    public static T[] BlocksByRow<T>(T[] perColumn, int blocks, int columns)
    {
        var result = new T[perColumn.Length];
        for (int n = 0; n < columns; n++)
            for (int b = 0; b < blocks; b++) result[(long)b * columns + n] = perColumn[(long)n * blocks + b];
        return result;
    }
}
