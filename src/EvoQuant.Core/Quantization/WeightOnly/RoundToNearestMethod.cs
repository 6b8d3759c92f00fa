namespace EvoQuant.Quantization.WeightOnly;

/// <summary>Round-to-nearest, the baseline every weight-only tool has: each block's scale and zero point
/// come from its own values, each value is rounded to the nearest code. Needs no calibration.
/// Asymmetric blocks span [min(0, lo), max(0, hi)] (zero stays exact, so the integer zero point exists);
/// symmetric blocks take the smallest scale whose codes -8..7 (4 bits) around the middle code cover the block:
/// max(-lo / 8, hi / 7), so a block led by a negative value uses the extra negative code, no scale is negative
/// and no value is clipped.</summary>
public sealed class RoundToNearestMethod : IWeightOnlyMethod
{
    public static RoundToNearestMethod Instance { get; } = new();

    public string Name => "RTN";

    public bool NeedsInputStatistics => false;

    public BlockQuantizedMatrix Quantize(ReadOnlySpan<float> weight, int rows, int columns, BlockQuantizationSpec spec, InputStatistics? statistics)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        if (rows < 1 || columns < 1 || weight.Length != (long)rows * columns)
            throw new ArgumentException($"{weight.Length} values are not a [{rows}, {columns}] matrix.", nameof(weight));
        int bs = spec.BlockSize, blocks = (rows + bs - 1) / bs;
        var codes = BlockQuantizedMatrix.NewPackedCodes(rows, columns, spec);
        long padded = BlockQuantizedMatrix.PaddedRows(rows, spec);
        var scales = new float[(long)blocks * columns];
        var zeroPoints = new byte[(long)blocks * columns];
        var lo = new float[columns];
        var hi = new float[columns];
        var inverse = new float[columns];
        var zero = new int[columns];
        int maxCode = spec.MaxCode;
        var column = spec.AdmmScales ? new float[bs] : Array.Empty<float>();
        for (int b = 0; b < blocks; b++)
        {
            int k0 = b * bs, k1 = Math.Min(rows, k0 + bs);
            // Row by row over the band: the [K, N] weight is read in its own order, columns side by side.
            Array.Fill(lo, 0f);
            Array.Fill(hi, 0f);
            for (int k = k0; k < k1; k++)
            {
                var row = weight.Slice(k * columns, columns);
                for (int n = 0; n < columns; n++)
                {
                    float v = row[n];
                    if (v < lo[n]) lo[n] = v;
                    if (v > hi[n]) hi[n] = v;
                }
            }
            for (int n = 0; n < columns; n++)
            {
                var (scale, zp) = BlockScales.Choose(lo[n], hi[n], spec);
                if (spec.AdmmScales) scale = AdmmBlockScale(weight, columns, n, k0, k1, scale, zp, maxCode, column);
                long index = (long)n * blocks + b;
                scales[index] = scale;
                zeroPoints[index] = (byte)zp;
                inverse[n] = scale;
                zero[n] = zp;
            }
            for (int k = k0; k < k1; k++)
            {
                var row = weight.Slice(k * columns, columns);
                for (int n = 0; n < columns; n++)
                {
                    BlockQuantizedMatrix.SetCode(codes, n * padded + k, spec.Bits, BlockScales.Code(row[n], inverse[n], zero[n], maxCode));
                }
            }
        }
        return new BlockQuantizedMatrix(rows, columns, spec, codes, scales, zeroPoints);
    }

    /// <summary>The block's scale refined for the least squared error from the covering one (zero point kept).</summary>
    private static float AdmmBlockScale(ReadOnlySpan<float> weight, int columns, int n, int k0, int k1, float scale, int zeroPoint, int maxCode, float[] column)
    {
        for (int k = k0; k < k1; k++) column[k - k0] = weight[k * columns + n];
        var start = new Numerics.QuantParams(scale, zeroPoint, Numerics.QuantType.UInt8);
        return Numerics.AdmmScale.Refine(column.AsSpan(0, k1 - k0), new long[] { k1 - k0 }, null, new[] { start }, 0, maxCode)[0].Scale;
    }
}
