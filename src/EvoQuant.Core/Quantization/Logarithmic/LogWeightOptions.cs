namespace EvoQuant.Quantization.Logarithmic;

/// <summary>Logarithmic weight storage: <see cref="Bits"/>-bit codes (4 or 8; sign + integer exponent, see
/// <see cref="Numerics.LogQuantizer"/>), one scale per output channel or per tensor, and
/// <see cref="StepsPerOctave"/> exponent steps per octave (null: the best for each tensor; 1: powers of two).</summary>
public sealed record LogWeightOptions(int Bits = 8, bool PerChannel = true, int? StepsPerOctave = null)
{
    public void Validate()
    {
        if (Bits is not (4 or 8)) throw new ArgumentOutOfRangeException(nameof(Bits), Bits, "Logarithmic codes are stored in 4 or 8 bits.");
        if (StepsPerOctave is int f && !Numerics.LogQuantizer.StepChoices.Contains(f))
            throw new ArgumentOutOfRangeException(nameof(StepsPerOctave), f, $"Steps per octave are one of {string.Join(", ", Numerics.LogQuantizer.StepChoices)}.");
    }
}

/// <summary>One weight stored logarithmically: its steps per octave and error, beside linear symmetric codes of the same width.</summary>
public sealed record LogWeightReport(string Tensor, string Node, string OpType, long[] Dims, int Bits, int StepsPerOctave, double Sqnr, double Mse, double LinearSqnr, long BytesBefore, long BytesAfter);

/// <summary>The model with logarithmic weights, what each weight lost and the weight bytes on both sides.</summary>
public sealed record LogWeightResult(Onnx.OnnxModel Model, IReadOnlyList<LogWeightReport> Weights, long WeightBytesBefore, long WeightBytesAfter, IReadOnlyList<string> Warnings)
{
    public double WeightRatio => WeightBytesAfter == 0 ? 0 : (double)WeightBytesBefore / WeightBytesAfter;
}
