namespace EvoQuant.Quantization;

/// <summary>How weight scales are found.</summary>
public enum WeightScaleMethod
{
    /// <summary>From the largest magnitude (per channel or per tensor), as the reference tool does.</summary>
    MaxAbs,
    /// <summary>Alternating minimisation of the weight's squared error from the max-abs start (<see cref="Numerics.AdmmScale"/>):
    /// never a larger error than MaxAbs, usually a slightly smaller scale that clips a few outliers.</summary>
    Admm,
}

/// <summary>How weights round to their codes.</summary>
public enum WeightRounding
{
    /// <summary>To the nearest code, ties to even.</summary>
    Nearest,
    /// <summary>Up or down at random, with the probability of the fractional part (<see cref="Numerics.StochasticRounding"/>), seeded.</summary>
    Stochastic,
}

/// <summary>The scale search and rounding of weights, for every mode that stores integer weights.</summary>
public sealed record WeightNumerics(WeightScaleMethod Scale = WeightScaleMethod.MaxAbs, WeightRounding Rounding = WeightRounding.Nearest, int Seed = 0)
{
    public static WeightNumerics Default { get; } = new();

    public bool IsDefault => Scale == WeightScaleMethod.MaxAbs && Rounding == WeightRounding.Nearest;
}
