namespace EvoQuant.Quantization.WeightOnly;

/// <summary>A [K, N] weight matrix quantized block-wise along K, laid out column by column as ONNX Runtime's
/// MatMulNBits reads it: column n's K codes are <c>Codes[n*K .. n*K+K)</c> (unpacked, one byte per value,
/// each in 0..MaxCode), its blocks' scales <c>Scales[n*BlocksPerColumn + b]</c> and zero points likewise.
/// Value = (code - zeroPoint) * scale. The packing into 4-bit pairs and the ONNX forms are the emitters'.</summary>
public sealed class BlockQuantizedMatrix
{
    public int Rows { get; }
    public int Columns { get; }
    public BlockQuantizationSpec Spec { get; }
    public byte[] Codes { get; }
    public float[] Scales { get; }
    public byte[] ZeroPoints { get; }

    public int BlocksPerColumn => (Rows + Spec.BlockSize - 1) / Spec.BlockSize;

    public BlockQuantizedMatrix(int rows, int columns, BlockQuantizationSpec spec, byte[] codes, float[] scales, byte[] zeroPoints)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        Rows = rows; Columns = columns; Spec = spec;
        int blocks = (rows + spec.BlockSize - 1) / spec.BlockSize * columns;
        if (codes.Length != (long)rows * columns) throw new ArgumentException($"{codes.Length} codes for a [{rows}, {columns}] matrix.", nameof(codes));
        if (scales.Length != blocks) throw new ArgumentException($"{scales.Length} scales for {blocks} blocks.", nameof(scales));
        if (zeroPoints.Length != blocks) throw new ArgumentException($"{zeroPoints.Length} zero points for {blocks} blocks.", nameof(zeroPoints));
        Codes = codes; Scales = scales; ZeroPoints = zeroPoints;
    }

    /// <summary>The value the model computes with at [k, n].</summary>
    public float ValueAt(int k, int n)
    {
        int block = n * BlocksPerColumn + k / Spec.BlockSize;
        return (Codes[(long)n * Rows + k] - ZeroPoints[block]) * Scales[block];
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
