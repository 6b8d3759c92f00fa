using EvoQuant.Targets;
using System.Globalization;

namespace EvoQuant.Evaluation;

/// <summary>The result of <see cref="SpeedComparer.Measure"/>: both models timed on this machine, at one
/// row (latency) and at a larger batch (throughput), runs interleaved.</summary>
public sealed record SpeedReport
{
    /// <summary>The CPU the runs timed.</summary>
    public required HostCpu Cpu { get; init; }

    /// <summary>ONNX Runtime intra-op threads of both sessions.</summary>
    public required int Threads { get; init; }

    /// <summary>One row per run (or the model's fixed batch size).</summary>
    public required SpeedMeasurement Latency { get; init; }

    /// <summary>The larger batch; the same measurement as <see cref="Latency"/> when the model's batch
    /// axis is fixed or the data has one row.</summary>
    public required SpeedMeasurement Throughput { get; init; }

    /// <summary>Throughput speedup: the reference's median time over the candidate's at <see cref="Throughput"/>'s batch size.</summary>
    public double Speedup => Throughput.Speedup;

    /// <summary>Latency speedup, at <see cref="Latency"/>'s batch size.</summary>
    public double LatencySpeedup => Latency.Speedup;

    /// <summary>How the runs were set up, and what could not be done as asked.</summary>
    public IReadOnlyList<string> Notes { get; init; } = Array.Empty<string>();

    /// <summary>Wall time of the timing, sessions and warm-up included.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>"1.42x at batch 64, 1.10x at batch 1 (2 threads)".</summary>
    public override string ToString() => ReferenceEquals(Latency, Throughput)
        ? string.Create(CultureInfo.InvariantCulture, $"{Speedup:F2}x at batch {Throughput.BatchSize} ({Threads} thread{(Threads == 1 ? "" : "s")})")
        : string.Create(CultureInfo.InvariantCulture, $"{Speedup:F2}x at batch {Throughput.BatchSize}, {LatencySpeedup:F2}x at batch {Latency.BatchSize} ({Threads} thread{(Threads == 1 ? "" : "s")})");
}

/// <summary>Both models timed at one batch size: the same number of runs each, interleaved.</summary>
public sealed record SpeedMeasurement
{
    /// <summary>Rows per run.</summary>
    public required int BatchSize { get; init; }

    /// <summary>Timed pairs: each model ran this many times (after the warm-up).</summary>
    public required int Pairs { get; init; }

    /// <summary>Run times of the reference (float) model, in milliseconds.</summary>
    public required TimingStats Reference { get; init; }

    /// <summary>Run times of the candidate (quantized) model, in milliseconds.</summary>
    public required TimingStats Candidate { get; init; }

    /// <summary>Reference median time / candidate median time: above 1 the candidate is faster.</summary>
    public double Speedup => Reference.Median / Candidate.Median;

    /// <summary>Rows (images, for an image model) per second of the reference, at the median time.</summary>
    public double ReferenceRowsPerSecond => BatchSize * 1000.0 / Reference.Median;

    /// <summary>Rows per second of the candidate, at the median time.</summary>
    public double CandidateRowsPerSecond => BatchSize * 1000.0 / Candidate.Median;

    /// <summary>"batch 64, 50 pairs: 4.10 ms -> 2.88 ms (1.42x)".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"batch {BatchSize}, {Pairs} pairs: {Reference.Median:G4} ms -> {Candidate.Median:G4} ms ({Speedup:F2}x)");
}

/// <summary>The distribution of one model's run times, in milliseconds.</summary>
public sealed record TimingStats
{
    /// <summary>Runs timed.</summary>
    public required int Count { get; init; }
    /// <summary>Median run time.</summary>
    public required double Median { get; init; }
    /// <summary>Fastest run.</summary>
    public required double Min { get; init; }
    /// <summary>Slowest run.</summary>
    public required double Max { get; init; }
    /// <summary>First quartile.</summary>
    public required double Q1 { get; init; }
    /// <summary>Third quartile.</summary>
    public required double Q3 { get; init; }

    /// <summary>Interquartile range, Q3 - Q1: the spread of the middle half of the runs.</summary>
    public double Iqr => Q3 - Q1;

    /// <summary>Statistics of the times (quantiles interpolated linearly between the sorted values).</summary>
    /// <exception cref="ArgumentException">No times.</exception>
    public static TimingStats From(IReadOnlyCollection<double> milliseconds)
    {
        ArgumentNullException.ThrowIfNull(milliseconds);
        if (milliseconds.Count == 0) throw new ArgumentException("No times were given.", nameof(milliseconds));
        var sorted = milliseconds.ToArray();
        Array.Sort(sorted);
        return new TimingStats
        {
            Count = sorted.Length,
            Median = Quantile(sorted, 0.5),
            Min = sorted[0],
            Max = sorted[^1],
            Q1 = Quantile(sorted, 0.25),
            Q3 = Quantile(sorted, 0.75),
        };
    }

    internal static double Quantile(double[] sorted, double p)
    {
        double pos = p * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    /// <summary>"2.88 ms (IQR 2.80-2.95, 2.71-3.40)".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Median:G4} ms (IQR {Q1:G4}-{Q3:G4}, range {Min:G4}-{Max:G4})");
}
