namespace EvoQuant.Calibration;

/// <summary>What <see cref="CalibrationMethod.EQ"/> chose for one tensor: the factor its base range was scaled
/// by, and the mean cosine similarity between the float and the quantized outputs of the layers that read it,
/// over the kept samples, at the base range and at the chosen one (the base is a candidate, so
/// <see cref="Cosine"/> is never below <see cref="BaseCosine"/>).</summary>
public sealed record ScaleSearch(CalibrationMethod Base, float Factor, double BaseCosine, double Cosine, int Layers)
{
    public override string ToString() => FormattableString.Invariant(
        $"x{Factor:0.##} of {Base}, cosine {Cosine:G6} ({Base} {BaseCosine:G6}) over {Layers} layer(s)");
}
