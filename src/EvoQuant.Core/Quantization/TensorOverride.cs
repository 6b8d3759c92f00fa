using EvoQuant.Numerics;

namespace EvoQuant.Quantization;

/// <summary>Per-tensor settings that win over everything computed (applied last): a type, a range to
/// compute the parameters from, or the scale and/or zero point themselves; for a weight, also a factor its
/// computed scales are multiplied by (EQ's weight-scale search).</summary>
public sealed record TensorOverride
{
    public QuantType? Type { get; init; }
    public float? Scale { get; init; }
    public int? ZeroPoint { get; init; }
    public float? RangeMin { get; init; }
    public float? RangeMax { get; init; }

    /// <summary>Weights only: every scale the quantizer computed (per channel or per tensor, after ADMM and the
    /// pair-safe widening, whose pair clipping still applies after it) is multiplied by this factor; a value
    /// below 1 clips the largest magnitudes for a finer grid. Ignored when Scale or a range is given.</summary>
    public float? ScaleFactor { get; init; }
}
