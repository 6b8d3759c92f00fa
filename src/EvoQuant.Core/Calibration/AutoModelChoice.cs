using System.Text.Json.Serialization;

namespace EvoQuant.Calibration;

/// <summary>One whole-model candidate of <see cref="CalibrationMethod.Auto"/>'s output check: the per-tensor
/// choice (<paramref name="Method"/> null) or one method's ranges for every tensor, and the output SQNR of the
/// model quantized with those ranges against the float model on the kept calibration rows (dB, the mean over
/// the model's float outputs).</summary>
public sealed record OutputScore(CalibrationMethod? Method, double Sqnr)
{
    public override string ToString() => FormattableString.Invariant($"{(Method?.ToString() ?? "per tensor")} {Sqnr:F2} dB");
}

/// <summary>What <see cref="CalibrationMethod.Auto"/>'s output check decided (<see cref="AutoModelCheck"/>): after the
/// per-tensor choice, the whole model is quantized with it and with each single method's ranges everywhere, each
/// scored at the model's outputs on the same calibration rows, and the best is kept (the per-tensor choice on a tie).
/// <see cref="Uniform"/> is the method given to every tensor, or null when the per-tensor choice was kept.</summary>
/// <param name="Uniform">The single method every tensor got; null: the per-tensor choice was kept.</param>
/// <param name="Rows">Calibration rows the outputs were compared on.</param>
/// <param name="Scores">Each candidate's output SQNR, the per-tensor choice first.</param>
public sealed record AutoModelChoice(CalibrationMethod? Uniform, long Rows, IReadOnlyList<OutputScore> Scores)
{
    /// <summary>The output SQNR of what was kept.</summary>
    [JsonIgnore]
    public double Sqnr => Scores.First(s => s.Method == Uniform).Sqnr;

    public bool Equals(AutoModelChoice? other) =>
        other is not null && Uniform == other.Uniform && Rows == other.Rows && Scores.SequenceEqual(other.Scores);

    public override int GetHashCode() => HashCode.Combine(Uniform, Rows, Scores.Count);

    public override string ToString()
    {
        string others = string.Join(", ", Scores.Where(s => s.Method != Uniform));
        string kept = Uniform is { } m ? $"{m} for every tensor" : "per-tensor choice kept";
        return FormattableString.Invariant($"{kept}: output SQNR {Sqnr:F2} dB on {Rows} calibration rows ({others})");
    }
}
