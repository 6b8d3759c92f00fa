namespace EvoQuant.Calibration;

/// <summary>What <see cref="CalibrationMethod.EQ"/> chose for one tensor: the factor its base range was scaled
/// by, the factors of the weights of the layers that read it (searched alternately with it), and the mean cosine
/// similarity between the float and the quantized outputs of those layers, over the kept samples, at the base
/// range with unscaled weights and at the choice (each step keeps its current value among its candidates, so
/// <see cref="Cosine"/> is never below <see cref="BaseCosine"/>).</summary>
public sealed record ScaleSearch(CalibrationMethod Base, float Factor, double BaseCosine, double Cosine, int Layers)
{
    /// <summary>The searched weights of the layers (empty when none was searched: not 8-bit, or read earlier).</summary>
    public IReadOnlyList<WeightScaleChoice> Weights { get; init; } = Array.Empty<WeightScaleChoice>();

    public bool Equals(ScaleSearch? other) =>
        other is not null && Base == other.Base && Factor == other.Factor && BaseCosine == other.BaseCosine && Cosine == other.Cosine
        && Layers == other.Layers && Weights.SequenceEqual(other.Weights);

    public override int GetHashCode() => HashCode.Combine(Base, Factor, BaseCosine, Cosine, Layers, Weights.Count);

    public override string ToString()
    {
        var moved = Weights.Where(w => w.Factor != 1f).ToList();
        string weights = Weights.Count == 0 ? "" : moved.Count == 0
            ? $", {Weights.Count} weight(s) x1"
            : $", weights {string.Join(", ", moved)}{(moved.Count < Weights.Count ? $" ({Weights.Count - moved.Count} more x1)" : "")}";
        return FormattableString.Invariant(
            $"x{Factor:0.##} of {Base}{weights}, cosine {Cosine:G6} ({Base} {BaseCosine:G6}) over {Layers} layer(s)");
    }
}
