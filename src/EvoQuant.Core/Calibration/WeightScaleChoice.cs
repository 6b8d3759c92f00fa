namespace EvoQuant.Calibration;

/// <summary>What <see cref="CalibrationMethod.EQ"/> chose for the weight of one layer that reads a searched tensor:
/// the factor its scales (per channel or per tensor, as the quantizer computes them) are multiplied by, and that
/// layer's mean output cosine at factor 1 and at the chosen factor in the search's last weight step (both with the
/// input scale of that step; the input's scale searched after it maximises the mean over the tensor's layers).</summary>
/// <param name="Weight">The weight as the quantizer names it (a Conv that absorbed its BatchNormalization reads a new
/// "..._folded_weight").</param>
/// <param name="Factor">What its scales are multiplied by (one of <see cref="EasyQuantSearch.WeightFactors"/>).</param>
/// <param name="BaseCosine">The layer's mean output cosine with the weight at factor 1.</param>
/// <param name="Cosine">The layer's mean output cosine at <paramref name="Factor"/> (1 is a candidate: never below <paramref name="BaseCosine"/>).</param>
public sealed record WeightScaleChoice(string Weight, float Factor, double BaseCosine, double Cosine)
{
    public override string ToString() => FormattableString.Invariant($"'{Weight}' x{Factor:0.##}");
}
