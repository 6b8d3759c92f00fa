namespace EvoQuant.Evaluation;

/// <summary>How <see cref="SpeedAwareQuantizer"/> profiles the float and quantized models and decides which nodes
/// stay float (<see cref="Quantization.QuantizationOptions.KeepSlowNodesFloat"/>).</summary>
public sealed record SpeedAwareOptions
{
    /// <summary>Batch sizes profiled: latency (1) and throughput (64) by default. A node is kept float when its
    /// quantized form is slower at one of them and no faster at any, so neither figure gets worse by the choice.</summary>
    public IReadOnlyList<int> BatchSizes { get; init; } = new[] { 1, 64 };

    /// <summary>Relative margin against noise: slower means quantized time above float time x (1 + Margin) plus
    /// <see cref="MinimumMicroseconds"/>; faster means below float time x (1 - Margin).</summary>
    /// <remarks>25%: on a 2-core VM shared with other builds, a node's median over 10 profiled runs moved by 10-30%
    /// between runs (docs/benchmarks.md, "Speed-aware choices").</remarks>
    public double Margin { get; init; } = 0.25;

    /// <summary>Absolute margin, in microseconds, added to the slower-than test (kernel times of a few
    /// microseconds are mostly timer noise).</summary>
    public double MinimumMicroseconds { get; init; } = 2;

    /// <summary>Untimed runs before the profiled ones, per model and batch size.</summary>
    public int WarmupRuns { get; init; } = 3;

    /// <summary>Profiled runs per model and batch size; each node's time is its median over them.</summary>
    public int Runs { get; init; } = 10;

    /// <summary>Profile-and-decide rounds: the second sees the Q/DQ pairs the first round's float nodes added.</summary>
    public int MaxRounds { get; init; } = 2;

    /// <summary>After the rounds, time the whole model with its float nodes against the plain quantization
    /// (<see cref="SpeedComparer"/>, at 1 row and at the largest batch size) and drop the choices when it is slower by
    /// more than the margin at either: per-node profile times can mislead.</summary>
    public bool ConfirmWithTiming { get; init; } = true;

    /// <summary>ONNX Runtime intra-op threads; 0: the physical cores, as <see cref="SpeedOptions.Threads"/>.</summary>
    public int Threads { get; init; }

    /// <summary>Samples to profile on, as <see cref="SpeedComparer.Measure"/> takes them (the first rows of each batch
    /// size); null: inputs generated from the model's declared shapes (a dynamic first axis takes the batch size;
    /// other dynamic axes then need samples).</summary>
    public IReadOnlyList<object>? Samples { get; init; }

    internal void Validate()
    {
        if (BatchSizes.Count == 0 || BatchSizes.Any(b => b < 1))
            throw new Quantization.QuantizationOptionsException("SpeedAware.BatchSizes", "Give at least one batch size, each at least 1.");
        if (Margin is < 0 or >= 1 || double.IsNaN(Margin))
            throw new Quantization.QuantizationOptionsException("SpeedAware.Margin", $"The margin is a fraction from 0 to below 1 (got {Margin}).");
        if (MinimumMicroseconds < 0 || WarmupRuns < 0 || Runs < 1 || MaxRounds < 1 || Threads < 0)
            throw new Quantization.QuantizationOptionsException("SpeedAware", "Runs and MaxRounds are at least 1; MinimumMicroseconds, WarmupRuns and Threads are not negative.");
    }
}
