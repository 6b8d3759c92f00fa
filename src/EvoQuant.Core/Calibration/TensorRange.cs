namespace EvoQuant.Calibration;

/// <summary>The calibrated range of one tensor: what was seen (<see cref="Min"/>, <see cref="Max"/>) and
/// the range chosen for quantization (<see cref="RangeMin"/>, <see cref="RangeMax"/>). The statistics
/// needed to merge tables (histogram, per-batch sums) travel with the row.</summary>
public sealed record TensorRange(string Tensor, CalibrationMethod Method, float Min, float Max, float RangeMin, float RangeMax)
{
    /// <summary>Finite values seen.</summary>
    public long ElementCount { get; init; }

    /// <summary>Batches in which the tensor was seen: the caller's batches (BatchSize rows, or one sample when
    /// the batch axis is static), however many ONNX Runtime runs the memory budget cut them into.</summary>
    public long BatchCount { get; init; }

    /// <summary>NaN and infinite values seen (left out of every statistic).</summary>
    public long NonFiniteCount { get; init; }

    /// <summary>Entropy and Percentile: the histogram the range was chosen from.</summary>
    public HistogramData? Histogram { get; init; }

    /// <summary>MinMax: sums of per-batch minima and maxima (for MovingAverage and merging).</summary>
    public double BatchMinSum { get; init; }

    public double BatchMaxSum { get; init; }

    /// <summary>Auto: the ranges each method proposed and the error each causes; <see cref="Method"/> is the
    /// one chosen (the least error, unless the output check gave every tensor one method: <see cref="ModelChoice"/>). Null for the other methods.</summary>
    public IReadOnlyList<MethodCandidate>? Candidates { get; init; }

    /// <summary>EQ: the factor its base range was scaled by, the factors of its layers' weights, and the layer cosines; null for the
    /// other methods and for tensors EQ does not search (they keep the base method's range).</summary>
    public ScaleSearch? Search { get; init; }

    /// <summary>Auto: the output check over the whole model (<see cref="AutoModelCheck"/>), the same for every row of a
    /// table: whether the per-tensor choice was kept or one method given to every tensor, and the output SQNR of each;
    /// null for the other methods (and for Auto tables calibrated without a model to run).</summary>
    public AutoModelChoice? ModelChoice { get; init; }

    /// <summary>Auto: why <see cref="Method"/> was chosen, e.g. "Entropy: MSE 1.2E-05 (MinMax 3.1E-05, Percentile 0.0021);
    /// per-tensor choice kept: output SQNR 27.10 dB on 51 calibration rows (MinMax 26.52 dB, ...)", or, when the output
    /// check gave every tensor one method, "MinMax for every tensor: output SQNR ...; per tensor: MSE ...";
    /// EQ: what the search chose, e.g. "EQ: x0.85 of MinMax, weights 'conv1.weight' x1.05, cosine 0.99912 (MinMax 0.99871) over 1 layer(s)".</summary>
    public string? Choice => Search != null ? $"EQ: {Search}" : Candidates == null ? null
        : ModelChoice?.Uniform != null ? $"{ModelChoice}; per tensor: {TensorErrors}"
        : ModelChoice != null ? $"{Method}: {TensorErrors}; {ModelChoice}"
        : $"{Method}: {TensorErrors}";

    // The chosen range's error at the tensor and the other methods'.
    private string TensorErrors => FormattableString.Invariant(
        $"MSE {Candidates!.First(c => c.Method == Method).Mse:G3} ({string.Join(", ", Candidates!.Where(c => c.Method != Method).Select(c => FormattableString.Invariant($"{c.Method} {c.Mse:G3}")))})");

    /// <summary>Largest |value| of the chosen range.</summary>
    public float AbsMax => Math.Max(Math.Abs(RangeMin), Math.Abs(RangeMax));

    public override string ToString() => $"{Tensor}: [{RangeMin}, {RangeMax}] (seen [{Min}, {Max}], {Method})";
}
