namespace EvoQuant.Evaluation;

/// <summary>How <see cref="SpeedComparer"/> times the two models.</summary>
public sealed record SpeedOptions
{
    /// <summary>Rows per run for the throughput figure (clamped to the rows the data has; a model whose
    /// batch axis is fixed runs at its fixed size). The latency figure runs one row.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>ONNX Runtime intra-op threads of both sessions; 0: the physical cores
    /// (<see cref="HostCpu.PhysicalCores"/>, which is ONNX Runtime's own default).</summary>
    public int Threads { get; init; }

    /// <summary>Untimed runs of each model before each timed series.</summary>
    public int WarmupRuns { get; init; } = 3;

    /// <summary>At most this many timed pairs (one run of each model) per batch size.</summary>
    public int MaxPairs { get; init; } = 100;

    /// <summary>At least this many timed pairs per batch size, whatever the budget.</summary>
    public int MinPairs { get; init; } = 5;

    /// <summary>Per batch size, no new pair starts after this much time once <see cref="MinPairs"/> are done.</summary>
    public TimeSpan TimeBudget { get; init; } = TimeSpan.FromSeconds(2);

    internal void Validate()
    {
        if (BatchSize < 1) throw new ArgumentException($"BatchSize must be at least 1; got {BatchSize}.", nameof(BatchSize));
        if (Threads < 0) throw new ArgumentException($"Threads cannot be negative; got {Threads}.", nameof(Threads));
        if (WarmupRuns < 0) throw new ArgumentException($"WarmupRuns cannot be negative; got {WarmupRuns}.", nameof(WarmupRuns));
        if (MinPairs < 1) throw new ArgumentException($"MinPairs must be at least 1; got {MinPairs}.", nameof(MinPairs));
        if (MaxPairs < MinPairs) throw new ArgumentException($"MaxPairs ({MaxPairs}) is less than MinPairs ({MinPairs}).", nameof(MaxPairs));
        if (TimeBudget < TimeSpan.Zero) throw new ArgumentException($"TimeBudget cannot be negative; got {TimeBudget}.", nameof(TimeBudget));
    }
}
