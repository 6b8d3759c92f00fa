namespace EvoQuant.Quantization.WeightOnly;

/// <summary>A [K, N] weight matrix quantized block-wise along K, stored as ONNX Runtime's MatMulNBits reads it,
/// so that the codes are never held one byte per 4-bit value: column n's codes are <see cref="PackedCodes"/>
/// <c>[n * ColumnBytes .. (n+1) * ColumnBytes)</c>, <see cref="BlockQuantizationSpec.Bits"/> each along K
/// (two 4-bit codes per byte, the first in the low nibble), a last block past K padded with its zero point;
/// its blocks' scales are <c>Scales[n*BlocksPerColumn + b]</c> and zero points likewise.
/// Value = (code - zeroPoint) * scale. The ONNX forms are the emitters'.</summary>
public sealed class BlockQuantizedMatrix
{
    public int Rows { get; }
    public int Columns { get; }
    public BlockQuantizationSpec Spec { get; }

    /// <summary>The codes in MatMulNBits' B layout, [N, blocks, blob] flattened.</summary>
    public byte[] PackedCodes { get; }
    public float[] Scales { get; }
    public byte[] ZeroPoints { get; }

    public int BlocksPerColumn => (Rows + Spec.BlockSize - 1) / Spec.BlockSize;

    /// <summary>Bytes of one column's codes: its blocks, padding included.</summary>
    public int ColumnBytes => BlocksPerColumn * BlockPacking.BlobSize(Spec);

    /// <summary>A matrix over codes a method wrote with <see cref="SetCode"/> into an array from <see cref="NewPackedCodes"/>;
    /// the padding past K is written here, from the zero points.</summary>
    public BlockQuantizedMatrix(int rows, int columns, BlockQuantizationSpec spec, byte[] packedCodes, float[] scales, byte[] zeroPoints)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        Rows = rows; Columns = columns; Spec = spec;
        int blocks = (rows + spec.BlockSize - 1) / spec.BlockSize * columns;
        if (packedCodes.Length != PackedLength(rows, columns, spec)) throw new ArgumentException($"{packedCodes.Length} bytes of codes for a [{rows}, {columns}] matrix.", nameof(packedCodes));
        if (scales.Length != blocks) throw new ArgumentException($"{scales.Length} scales for {blocks} blocks.", nameof(scales));
        if (zeroPoints.Length != blocks) throw new ArgumentException($"{zeroPoints.Length} zero points for {blocks} blocks.", nameof(zeroPoints));
        PackedCodes = packedCodes; Scales = scales; ZeroPoints = zeroPoints;
        long padded = PaddedRows(rows, spec);
        for (int n = 0; n < columns && padded > rows; n++)
        {
            byte pad = zeroPoints[(long)n * BlocksPerColumn + BlocksPerColumn - 1];
            for (long k = rows; k < padded; k++) SetCode(packedCodes, n * padded + k, spec.Bits, pad);
        }
    }

    /// <summary>Zeroed codes for a [rows, columns] matrix, to be written with <see cref="SetCode"/>.</summary>
    public static byte[] NewPackedCodes(int rows, int columns, BlockQuantizationSpec spec) => new byte[PackedLength(rows, columns, spec)];

    private static long PackedLength(int rows, int columns, BlockQuantizationSpec spec) =>
        (long)columns * ((rows + spec.BlockSize - 1) / spec.BlockSize) * BlockPacking.BlobSize(spec);

    /// <summary>Rows of a column counting its last block's padding: code [k, n] is code number n * PaddedRows + k
    /// of the packed array. A multiple of 16, so every column starts on a byte.</summary>
    public static long PaddedRows(int rows, BlockQuantizationSpec spec) => (long)((rows + spec.BlockSize - 1) / spec.BlockSize) * spec.BlockSize;

    /// <summary>Writes code number <paramref name="index"/> (see <see cref="PaddedRows"/>) of <paramref name="bits"/> bits.</summary>
    public static void SetCode(byte[] packedCodes, long index, int bits, byte code)
    {
        if (bits == 8) { packedCodes[index] = code; return; }
        int shift = (int)(index & 1) * 4;
        ref byte b = ref packedCodes[index >> 1];
        b = (byte)((b & ~(0xF << shift)) | (code << shift));
    }

    /// <summary>The code at [k, n] (0..MaxCode).</summary>
    public byte Code(int k, int n)
    {
        long i = n * PaddedRows(Rows, Spec) + k;
        return Spec.Bits == 8 ? PackedCodes[i] : (byte)((PackedCodes[i >> 1] >> ((int)(i & 1) * 4)) & 0xF);
    }

    /// <summary>The codes one byte per value, column by column (column n's K codes at <c>[n*K .. n*K+K)</c>).</summary>
    public byte[] UnpackCodes()
    {
        var codes = new byte[(long)Rows * Columns];
        for (int n = 0; n < Columns; n++)
            for (int k = 0; k < Rows; k++) codes[(long)n * Rows + k] = Code(k, n);
        return codes;
    }

    /// <summary>The value the model computes with at [k, n].</summary>
    public float ValueAt(int k, int n)
    {
        int block = n * BlocksPerColumn + k / Spec.BlockSize;
        return (Code(k, n) - ZeroPoints[block]) * Scales[block];
    }

    /// <summary>The dequantized matrix, [K, N] row-major like the float weight it replaces.</summary>
    public float[] Dequantize()
    {
        var result = new float[(long)Rows * Columns];
        for (int n = 0; n < Columns; n++)
            for (int k = 0; k < Rows; k++)
                result[(long)k * Columns + n] = ValueAt(k, n);
        return result;
    }
}
