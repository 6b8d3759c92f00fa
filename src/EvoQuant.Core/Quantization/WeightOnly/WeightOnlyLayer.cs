namespace EvoQuant.Quantization.WeightOnly;

/// <summary>One weight quantized weight-only, and what it cost: the error of its block-quantized values
/// against the float weight (SQNR in dB, MSE) and its bytes before and after (codes, scales and zero points).</summary>
public sealed record WeightOnlyLayer(
    string Node,
    string OpType,
    string Weight,
    int Rows,
    int Columns,
    int Bits,
    int BlockSize,
    bool Symmetric,
    string Method,
    WeightOnlyForm Form,
    double Sqnr,
    double Mse,
    long BytesBefore,
    long BytesAfter)
{
    public double Ratio => BytesAfter == 0 ? 0 : (double)BytesBefore / BytesAfter;

    public override string ToString() => $"{Node} ({OpType}) {Weight} [{Rows}x{Columns}] {Bits}-bit/{BlockSize}: {Sqnr:F1} dB";
}
