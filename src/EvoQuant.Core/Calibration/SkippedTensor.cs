namespace EvoQuant.Calibration;

/// <summary>A tensor that was considered for calibration and left out, and why.</summary>
public sealed record SkippedTensor(string Tensor, string Reason)
{
    public override string ToString() => $"{Tensor}: {Reason}";
}
