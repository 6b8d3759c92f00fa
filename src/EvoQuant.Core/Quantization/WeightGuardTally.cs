namespace EvoQuant.Quantization;

/// <summary>How many weight tensors a rewrite quantized and how many the pair-safe guard widened, so the
/// result can say what the target decided.</summary>
public sealed class WeightGuardTally
{
    public int Weights { get; private set; }
    public int Widened { get; private set; }

    public void Count(QuantizedTensor t)
    {
        Weights++;
        if (t.PairSafeWidened > 0) Widened++;
    }
}
