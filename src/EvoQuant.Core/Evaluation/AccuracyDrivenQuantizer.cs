using EvoQuant.Onnx;
using EvoQuant.Quantization;

namespace EvoQuant.Evaluation;

/// <summary>What accuracy-driven quantization must reach: at most a drop in top-1 accuracy (points,
/// needs labels), and/or at least an output SQNR (dB, the smallest over the outputs).</summary>
public sealed record AccuracyTarget
{
    /// <summary>Largest allowed drop of top-1 accuracy, in percentage points (needs labels).</summary>
    public double? MaxAccuracyDrop { get; init; }

    /// <summary>Smallest allowed output SQNR in dB.</summary>
    public double? MinSqnrDb { get; init; }

    /// <summary>Smallest allowed speedup over the float model on this CPU, the worse of batch 1 and the larger batch
    /// (<see cref="SpeedComparer"/> with <see cref="AccuracyDrivenOptions.Speed"/>), measured once the accuracy bounds
    /// are met. Keeping more nodes float does not make a model faster, so a step that meets the accuracy bounds too
    /// slowly ends the search, the target missed.</summary>
    public double? MinSpeedup { get; init; }

    /// <summary>A target of at most <paramref name="points"/> percentage points of top-1 accuracy lost.</summary>
    public static AccuracyTarget MaxDrop(double points) => new() { MaxAccuracyDrop = points };
    /// <summary>A target of at least <paramref name="db"/> dB output SQNR.</summary>
    public static AccuracyTarget MinSqnr(double db) => new() { MinSqnrDb = db };

    /// <summary>Whether a comparison meets every bound that is set.</summary>
    public bool IsMetBy(AccuracySummary s) =>
        (MaxAccuracyDrop is not double d || (s.AccuracyDrop is double drop && drop <= d))
        && (MinSqnrDb is not double m || s.MinOutputSqnr >= m);

    public override string ToString() => string.Join(" and ", new[]
    {
        MaxAccuracyDrop is double d ? $"accuracy drop <= {d} points" : null,
        MinSqnrDb is double m ? $"output SQNR >= {m} dB" : null,
        MinSpeedup is double v ? $"speedup >= {v}x" : null,
    }.Where(x => x != null));
}

/// <summary>Settings of <see cref="AccuracyDrivenQuantizer.Run"/> besides the target.</summary>
public sealed record AccuracyDrivenOptions
{
    /// <summary>Nodes excluded per step (the worst ones by own error).</summary>
    public int NodesPerStep { get; init; } = 1;

    /// <summary>At most this many re-quantizations after the first.</summary>
    public int MaxSteps { get; init; } = 20;

    /// <summary>Batching and label options for the measurements (Labels and PerTensor are set by the run).</summary>
    public ComparisonOptions Comparison { get; init; } = new();

    /// <summary>How the speed is timed for <see cref="AccuracyTarget.MinSpeedup"/>.</summary>
    public SpeedOptions Speed { get; init; } = new();
}

/// <summary>One quantize-and-measure round.</summary>
/// <param name="Step">0 for the first quantization.</param>
/// <param name="ExcludedNodes">All nodes kept in float by this search so far (the user's own exclusions not included).</param>
/// <param name="AddedNodes">Nodes excluded at this step.</param>
/// <param name="ReferenceAccuracy">Top-1 accuracy of the float model (percent), with labels.</param>
/// <param name="CandidateAccuracy">Top-1 accuracy of this quantized model (percent), with labels.</param>
/// <param name="AccuracyDrop">Reference minus candidate accuracy, in points.</param>
/// <param name="Sqnr">Smallest output SQNR in dB.</param>
/// <param name="Top1Agreement">Percent of rows with the reference's top-1, for classifiers.</param>
/// <param name="TargetMet">Whether this step meets the target.</param>
/// <param name="Reverted">This step measured worse than the last kept one, so its added nodes were put
/// back (quantized) and are not tried again.</param>
/// <param name="Speedup">With <see cref="AccuracyTarget.MinSpeedup"/>, once the accuracy bounds are met: the worse of
/// the batch-1 and larger-batch speedups over float on this CPU.</param>
public sealed record AccuracyDrivenStep(int Step, string[] ExcludedNodes, string[] AddedNodes, double? ReferenceAccuracy,
    double? CandidateAccuracy, double? AccuracyDrop, double Sqnr, double? Top1Agreement, bool TargetMet, bool Reverted = false, double? Speedup = null);

/// <summary>Every step and the last quantization.</summary>
public sealed class AccuracyDrivenResult
{
    /// <summary>Every quantize-and-measure round, in order.</summary>
    public required IReadOnlyList<AccuracyDrivenStep> Steps { get; init; }

    /// <summary>The quantization of the last kept step (the one meeting the target when <see cref="TargetMet"/>).</summary>
    public required QuantizationResult Final { get; init; }

    /// <summary>The comparison of that step.</summary>
    public required AccuracyReport FinalReport { get; init; }

    /// <summary>Whether the last step meets the target.</summary>
    public required bool TargetMet { get; init; }

    /// <summary>Nodes this search kept in float in <see cref="Final"/> (to pass as ExcludeNodes next time).</summary>
    public required string[] ExcludedNodes { get; init; }

    /// <summary>The target that was pursued.</summary>
    public required AccuracyTarget Target { get; init; }
}

/// <summary>
/// Quantizes, measures on validation samples, and while the target is missed keeps the worst node(s)
/// in float (ranked by their own error in the per-tensor analysis), re-quantizes and measures again;
/// stops when the target is met, when no quantized node is left to exclude, or after MaxSteps.
/// </summary>
public static class AccuracyDrivenQuantizer
{
    /// <param name="model">The float model.</param>
    /// <param name="options">Quantization options (with calibrated ranges for static mode); its ExcludeNodes are kept.</param>
    /// <param name="validation">Validation samples, as <see cref="AccuracyComparer.Compare"/> takes them; read once per step.</param>
    /// <param name="labels">One label per validation row, or null (then only an SQNR target can be used).</param>
    /// <param name="target">What to reach.</param>
    /// <param name="settings">Step size, step limit, measurement batching.</param>
    /// <param name="progress">Each finished step.</param>
    /// <param name="cancellationToken">Stops between batches and steps.</param>
    /// <exception cref="ArgumentException">An accuracy target without labels, or an empty target.</exception>
    public static AccuracyDrivenResult Run(OnnxModel model, QuantizationOptions options, IEnumerable<object> validation, IReadOnlyList<long>? labels,
        AccuracyTarget target, AccuracyDrivenOptions? settings = null, IProgress<AccuracyDrivenStep>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(target);
        settings ??= new AccuracyDrivenOptions();
        if (target.MaxAccuracyDrop == null && target.MinSqnrDb == null) throw new ArgumentException("The target sets neither MaxAccuracyDrop nor MinSqnrDb.", nameof(target));
        if (target.MaxAccuracyDrop != null && labels == null) throw new ArgumentException("An accuracy-drop target needs labels.", nameof(labels));
        if (settings.NodesPerStep < 1) throw new ArgumentException("NodesPerStep must be at least 1.", nameof(settings));

        var measure = settings.Comparison with { Labels = labels, PerTensor = false };
        var analyse = settings.Comparison with { Labels = labels, PerTensor = true };
        var excluded = new List<string>();
        var rejected = new HashSet<string>(StringComparer.Ordinal);
        var added = Array.Empty<string>();
        var steps = new List<AccuracyDrivenStep>();
        (QuantizationResult Q, AccuracyReport Report, string[] Excluded)? kept = null;
        bool keptMet = false, tooSlow = false;
        IReadOnlyList<NodeComparison> ranking = Array.Empty<NodeComparison>();
        for (int step = 0; ; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var q = ModelQuantizer.Quantize(model, options with { ExcludeNodes = options.ExcludeNodes.Concat(excluded).ToList() }, null, cancellationToken);
            // The figures come from an ordinary (optimized) run, as the user will run the model; the
            // ranking needs the per-tensor run, made only when another step may follow.
            var report = AccuracyComparer.Compare(model, q.Model, validation, measure, null, cancellationToken);
            var s = report.Summary;
            bool met = target.IsMetBy(s);
            double? speedup = null;
            if (met && target.MinSpeedup is double minimum)
            {
                var speed = SpeedComparer.Measure(model, q.Model, validation, settings.Speed, cancellationToken);
                speedup = Math.Min(speed.LatencySpeedup, speed.Speedup);
                met = speedup >= minimum;
                tooSlow = !met;
            }
            // A step that makes things worse is undone: keeping a node in float can hurt (a runtime that
            // fuses differently, a quantizer boundary that loses a folded activation); the search then goes
            // on from the last kept state with the next-ranked node.
            bool worse = !met && kept != null && IsWorse(s, kept.Value.Report.Summary, target);
            var record = new AccuracyDrivenStep(step, excluded.ToArray(), added, s.ReferenceAccuracy, s.CandidateAccuracy, s.AccuracyDrop, s.MinOutputSqnr, s.Top1Agreement, met, worse, speedup);
            steps.Add(record);
            progress?.Report(record);
            if (worse)
            {
                foreach (var a in added) { excluded.Remove(a); rejected.Add(a); }
            }
            else
            {
                kept = (q, report, excluded.ToArray());
                keptMet = met;
                if (met) break;
                if (step < settings.MaxSteps)
                    // Ranked from what the rewrite recorded, with node outcomes as the graph runs them (a float node
                    // left between Q/DQ pairs still has its output quantized, and the search must see that error).
                    ranking = AccuracyComparer.Compare(model, q.Model, validation, analyse with { Provenance = q.Provenance }, null, cancellationToken).Nodes;
            }
            if (tooSlow) break; // accurate enough but too slow: more nodes in float would not make it faster
            if (step >= settings.MaxSteps) break;
            var next = NextExclusions(ranking, excluded, rejected, settings.NodesPerStep);
            if (next.Length == 0) break;
            excluded.AddRange(next);
            added = next;
        }
        var k = kept!.Value;
        return new AccuracyDrivenResult
        {
            Steps = steps, Final = k.Q, FinalReport = k.Report, ExcludedNodes = k.Excluded,
            TargetMet = keptMet, Target = target,
        };
    }

    /// <summary>Whether <paramref name="now"/> is clearly further from the target than <paramref name="before"/>:
    /// more than half a point more accuracy drop when the target bounds the drop, else more than 1 dB less
    /// output SQNR. A neutral step is kept: excluding a producer changes nothing until its readers follow.</summary>
    private static bool IsWorse(AccuracySummary now, AccuracySummary before, AccuracyTarget target) =>
        target.MaxAccuracyDrop != null
            ? now.AccuracyDrop > before.AccuracyDrop + 0.5
            : now.MinOutputSqnr < before.MinOutputSqnr - 1.0;

    /// <summary>The worst nodes by own error that are still quantized. A node already kept in float that still
    /// ranks worst has an error its exclusion did not remove: its output's Q/DQ pair, which stays because
    /// other quantized nodes read the tensor; those readers are then the next to exclude.</summary>
    internal static string[] NextExclusions(IReadOnlyList<NodeComparison> worstFirst, IReadOnlyCollection<string> excluded, IReadOnlySet<string> rejected, int count)
    {
        var picked = new List<string>();
        foreach (var n in worstFirst)
        {
            var group = excluded.Contains(n.Node) ? n.OutputConsumers : new[] { n.Node };
            foreach (var g in group)
                if (!g.StartsWith('(') && !excluded.Contains(g) && !rejected.Contains(g) && !picked.Contains(g)) picked.Add(g); // unnamed nodes cannot be excluded by name
            if (picked.Count >= count) break;
        }
        return picked.ToArray();
    }
}
