namespace EvoQuant.Quantization;

/// <summary>How many weight tensors a rewrite quantized and how many the pair-safe guard changed (a
/// scale widened or a pair pulled back), so the result can say what the target decided.</summary>
public sealed class WeightGuardTally
{
    public int Weights { get; private set; }
    public int Adjusted { get; private set; }

    public void Count(QuantizedTensor t)
    {
        Weights++;
        if (t.PairSafeChanges > 0) Adjusted++;
    }
}
