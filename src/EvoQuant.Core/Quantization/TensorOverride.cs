using EvoQuant.Numerics;

namespace EvoQuant.Quantization;

/// <summary>Per-tensor settings that win over everything computed (applied last): a type, a range to
/// compute the parameters from, or the scale and/or zero point themselves.</summary>
public sealed record TensorOverride
{
    public QuantType? Type { get; init; }
    public float? Scale { get; init; }
    public int? ZeroPoint { get; init; }
    public float? RangeMin { get; init; }
    public float? RangeMax { get; init; }
}
