using System.Diagnostics;
using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Numerics;
using EvoQuant.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Evaluation;

/// <summary>
/// Runs a reference (float) and a candidate (quantized) model on the same samples with ONNX Runtime and
/// measures how far the candidate's outputs are from the reference's: MSE, max/mean absolute error,
/// cosine similarity, SQNR per output; top-1/top-5 agreement and label accuracy for classifier outputs;
/// with <see cref="ComparisonOptions.PerTensor"/>, the same per intermediate tensor and weight, and each
/// quantized node's own error. Batch by batch: only running sums are kept, never the outputs.
/// </summary>
public static partial class AccuracyComparer
{
    /// <summary>Compares the models on the samples and returns the report.</summary>
    /// <param name="reference">The float model.</param>
    /// <param name="candidate">The quantized model (same inputs and outputs).</param>
    /// <param name="items">Samples, as <see cref="SampleSource"/> reads them: .npy/.npz/.pb paths, folders,
    /// <see cref="Sample"/>s, <see cref="NamedTensor"/>s, dictionaries name → array, arrays. Read lazily.</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="progress">Rows and batches done.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    /// <exception cref="ArgumentException">No samples, labels that do not fit, no common float output.</exception>
    /// <exception cref="SampleMismatchException">A sample does not fit the model (when <see cref="ComparisonOptions.OnSampleError"/> is null).</exception>
    public static AccuracyReport Compare(OnnxModel reference, OnnxModel candidate, IEnumerable<object> items,
        ComparisonOptions? options = null, IProgress<ComparisonProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(items);
        options ??= new ComparisonOptions();
        Validate(options);
        var notes = new List<string>();
        var report = CompareAccuracy(reference, candidate, items, options, notes, progress, cancellationToken);
        if (options.Timing == null) return report;

        // After the accuracy pass (its sessions are closed), so a sample error is reported as an accuracy error first.
        progress?.Report(new ComparisonProgress(report.Summary.Rows, report.Summary.Batches, "Timing"));
        try
        {
            return report.WithSpeed(SpeedComparer.Measure(reference, candidate, items, options.Timing, cancellationToken));
        }
        catch (OnnxRuntimeException e)
        {
            notes.Add($"Speed was not measured: ONNX Runtime could not time the models ({e.Message}).");
            return report;
        }
    }

    private static AccuracyReport CompareAccuracy(OnnxModel reference, OnnxModel candidate, IEnumerable<object> items,
        ComparisonOptions options, List<string> notes, IProgress<ComparisonProgress>? progress, CancellationToken cancellationToken)
    {
        var ct = cancellationToken;
        var clock = Stopwatch.StartNew();

        PerTensorPlan? plan = options.PerTensor ? PerTensorPlan.Build(reference, candidate, options.Provenance) : null;
        // The output figures come from both models run as a user runs them (optimized: integer kernels for
        // Q/DQ groups). The per-tensor runs are separate sessions without optimizations, which would fuse
        // away the tensors they read; their Q/DQ runs as float arithmetic, so they may differ slightly.
        using var refPlain = new ModelRunner(reference, optimize: true);
        using var candidateFile = RuntimeModelFile.For(candidate);
        using var candPlain = new ModelRunner(candidateFile, optimize: true);
        // The per-tensor models read the weights where their models keep them (external data included).
        using var refRunner = plan != null ? new ModelRunner(reference.With(plan.ReferenceModel), optimize: false) : null;
        using var candRunner = plan != null ? new ModelRunner(candidate.With(plan.CandidateModel), optimize: false) : null;
        using var branchRunner = plan != null ? TryBranchRunner(plan, refRunner!, notes) : null;
        // The candidate as its Q/DQ simulation, to tell what the integer kernels lose beyond it (first batch).
        using var simulated = options.CheckKernels && KernelGapMeter.HasQdq(candidate) ? new ModelRunner(candidateFile, optimize: false) : null;
        var gaps = new List<KernelGap>();
        var outputs = PairOutputs(reference, candidate, refPlain, candPlain);
        if (outputs.Count == 0) throw new ArgumentException("The models have no float outputs in common to compare.");
        if (options.LabelOutput != null && !outputs.Any(o => o.Reference == options.LabelOutput))
            throw new ArgumentException($"LabelOutput '{options.LabelOutput}' is not a float output of both models; they have {string.Join(", ", outputs.Select(o => o.Reference))}.", nameof(options));
        var embedding = options.Embedding == null ? null : EmbeddingTarget.Resolve(reference, outputs, options.Embedding);
        var activations = plan == null ? new() : plan.Activations.Where(a => refRunner!.IsFloatOutput(a.ReferenceOutput) && candRunner!.IsFloatOutput(a.CandidateOutput)).ToList();
        var branches = branchRunner == null ? new() : plan!.Branches.Where(b => refRunner!.IsFloatOutput(b.ReferenceOutput) && branchRunner.IsFloatOutput(b.OwnOutput)).ToList();
        var qdqs = branchRunner == null ? new() : plan!.QdqBranches.Where(b => refRunner!.IsFloatOutput(b.ReferenceOutput) && branchRunner.IsFloatOutput(b.QdqOutput)).ToList();
        var feedNames = branchRunner == null ? Array.Empty<string>() : plan!.BranchFeeds.Keys.ToArray();
        var branchRequest = branches.Select(b => b.OwnOutput).Concat(qdqs.Select(b => b.QdqOutput)).Distinct(StringComparer.Ordinal).ToArray();

        string[] refOutputs = outputs.Select(o => o.Reference).Distinct(StringComparer.Ordinal).ToArray();
        string[] candOutputs = outputs.Select(o => o.Candidate).Distinct(StringComparer.Ordinal).ToArray();
        string[] refRequest = activations.Select(a => a.ReferenceOutput)
            .Concat(branches.Select(b => b.ReferenceOutput)).Concat(qdqs.Select(b => b.ReferenceOutput))
            .Concat(feedNames.Select(f => plan!.BranchFeeds[f])).Distinct(StringComparer.Ordinal).ToArray();
        string[] candRequest = activations.Select(a => a.CandidateOutput).Distinct(StringComparer.Ordinal).ToArray();

        var outputAcc = outputs.Select(_ => new ErrorAccumulator()).ToArray();
        var counters = new ClassificationCounter?[outputs.Count];
        var activationAcc = activations.Select(_ => new ErrorAccumulator()).ToArray();
        var logCosts = activations.Select(a => a.QuantRange is var (lo, hi) ? new LogQuantizationCost(lo, hi) : null).ToArray();
        var branchAcc = branches.Select(_ => new ErrorAccumulator()).ToArray();
        var qdqAcc = qdqs.Select(_ => new ErrorAccumulator()).ToArray();
        var histograms = activations.Select(_ => new GridHistogram(absolute: false, options.HistogramBins)).ToArray();
        int labelOutput = -1;
        long rows = 0;
        int batches = 0;

        foreach (var batch in Batches(reference, items, options))
        {
            ct.ThrowIfCancellationRequested();
            using (var rp = refPlain.Run(batch.Inputs, refOutputs))
            using (var cp = candPlain.Run(batch.Inputs, candOutputs))
            {
                AddOutputs(rp, cp);
                embedding?.Add(batch, rp, cp);
                if (batches == 0 && simulated != null) gaps.AddRange(KernelGapMeter.Measure(simulated, batch.Inputs, outputs, rp, cp));
            }
            if (plan != null && refRequest.Length > 0 && candRequest.Length > 0) AddTensors(batch);
            rows += batch.Rows;
            batches++;
            progress?.Report(new ComparisonProgress(rows, batches, "Comparing"));
        }

        void AddOutputs(ModelRunner.RunResult r, ModelRunner.RunResult c)
        {
            for (int i = 0; i < outputs.Count; i++)
            {
                var rd = r.Data(outputs[i].Reference);
                var cd = c.Data(outputs[i].Candidate);
                var rs = r.Shape(outputs[i].Reference);
                var cs = c.Shape(outputs[i].Candidate);
                if (rd.Length != cd.Length)
                    throw new InvalidOperationException($"Output '{outputs[i].Reference}' has shape [{string.Join(",", rs)}] in the reference but [{string.Join(",", cs)}] in the candidate.");
                outputAcc[i].Add(rd, cd);
                if (batches == 0 && rs.Length == 2 && rs[1] > 1)
                {
                    counters[i] = new ClassificationCounter((int)rs[1], options.TopK);
                    if (labelOutput < 0 && (options.LabelOutput == null || options.LabelOutput == outputs[i].Reference)) labelOutput = i;
                }
                if (counters[i] is { } counter)
                {
                    ReadOnlySpan<long> labels = default;
                    if (i == labelOutput && options.Labels != null)
                    {
                        if (rows + rs[0] > options.Labels.Count)
                            throw new ArgumentException($"{options.Labels.Count} labels were given but the samples have more rows.");
                        labels = Slice(options.Labels, rows, (int)rs[0]);
                    }
                    counter.Add(rd, cd, labels);
                }
            }
        }

        void AddTensors(SampleBatch batch)
        {
            using var r = refRunner!.Run(batch.Inputs, refRequest);
            using var c = candRunner!.Run(batch.Inputs, candRequest);
            // The branch model reads the reference run's tensors directly (ORT values, no copy).
            using var o = branchRequest.Length == 0 ? null
                : branchRunner!.Run(feedNames, feedNames.Select(f => r.Value(plan!.BranchFeeds[f])).ToList(), branchRequest);
            for (int i = 0; i < activations.Count; i++)
            {
                var rd = r.Data(activations[i].ReferenceOutput);
                var cd = c.Data(activations[i].CandidateOutput);
                if (rd.Length != cd.Length) continue; // a layout the candidate changed: not comparable element-wise
                activationAcc[i].Add(rd, cd);
                histograms[i].Add(rd);
                logCosts[i]?.Add(rd);
            }
            for (int i = 0; i < branches.Count; i++)
            {
                var rd = r.Data(branches[i].ReferenceOutput);
                var od = o!.Data(branches[i].OwnOutput);
                if (rd.Length == od.Length) branchAcc[i].Add(rd, od);
            }
            for (int i = 0; i < qdqs.Count; i++)
            {
                var rd = r.Data(qdqs[i].ReferenceOutput);
                var qd = o!.Data(qdqs[i].QdqOutput);
                if (rd.Length == qd.Length) qdqAcc[i].Add(rd, qd);
            }
        }

        if (batches == 0) throw new ArgumentException("No samples were given.");
        if (options.Labels != null && labelOutput < 0)
            throw new ArgumentException(options.LabelOutput != null
                ? $"Output '{options.LabelOutput}' is not a classifier-like [N, C] output of both models."
                : "Labels were given but no output is classifier-like ([N, C], C > 1).");
        if (options.Labels != null && rows != options.Labels.Count)
            throw new ArgumentException($"{options.Labels.Count} labels were given for {rows} rows.");

        var outputRows = new List<OutputComparison>();
        for (int i = 0; i < outputs.Count; i++)
        {
            var s = outputAcc[i].Summary;
            var k = counters[i];
            outputRows.Add(new OutputComparison
            {
                Output = outputs[i].Reference,
                Count = s.Count, Mse = s.Mse, MaxAbsError = s.MaxAbsError, MeanAbsError = s.MeanAbsError,
                CosineSimilarity = s.CosineSimilarity, Sqnr = s.Sqnr,
                IsClassifier = k != null,
                Top1Agreement = k?.Top1AgreementPercent,
                Top5Agreement = k?.TopKAgreementPercent,
                ReferenceAccuracy = k?.ReferenceAccuracyPercent,
                CandidateAccuracy = k?.CandidateAccuracyPercent,
                AccuracyDrop = k?.ReferenceAccuracyPercent - k?.CandidateAccuracyPercent,
            });
        }

        var qdqSqnr = new Dictionary<string, double>(StringComparer.Ordinal);
        for (int i = 0; i < qdqs.Count; i++)
            if (qdqAcc[i].Count > 0) qdqSqnr[qdqs[i].Tensor] = qdqAcc[i].Summary.Sqnr;
        var tensorRows = new List<TensorComparison>();
        var histogramMap = new Dictionary<string, GridHistogram>(StringComparer.Ordinal);
        for (int i = 0; i < activations.Count; i++)
        {
            var a = activations[i];
            if (activationAcc[i].Count == 0) continue;
            (float Min, float Max)? calibrated = options.CalibrationRanges != null && options.CalibrationRanges.TryGetValue(a.Tensor, out var cr) ? cr : null;
            tensorRows.Add(TensorComparison.From(a.Tensor, TensorKind.Activation, a.Node, a.OpType, a.Order, a.CandidateTensor, activationAcc[i].Summary, a.QuantRange) with
            {
                QdqSqnr = qdqSqnr.TryGetValue(a.Tensor, out var own) ? own : null,
                LogSqnr = logCosts[i]?.Sqnr,
                CalibrationMin = calibrated?.Min,
                CalibrationMax = calibrated?.Max,
            });
            histogramMap[a.Tensor] = histograms[i];
        }
        if (plan != null) tensorRows.AddRange(plan.Weights);
        tensorRows.Sort(WorstFirst);

        var accumulated = tensorRows.Where(t => t.Kind == TensorKind.Activation).GroupBy(t => t.Tensor).ToDictionary(g => g.Key, g => g.First().Sqnr, StringComparer.Ordinal);
        var nodeRows = new List<NodeComparison>();
        for (int i = 0; i < branches.Count; i++)
        {
            if (branchAcc[i].Count == 0) continue;
            var b = branches[i];
            var s = branchAcc[i].Summary;
            nodeRows.Add(new NodeComparison
            {
                Node = b.Node, OpType = b.OpType, Order = b.Order, Tensor = b.Tensor,
                OwnSqnr = s.Sqnr, OwnCosineSimilarity = s.CosineSimilarity, OwnMse = s.Mse,
                AccumulatedSqnr = accumulated.TryGetValue(b.Tensor, out var acc) ? acc : null,
                OutputQdqSqnr = qdqSqnr.TryGetValue(b.Tensor, out var oq) ? oq : null,
                OutputConsumers = plan!.QuantizedConsumers.GetValueOrDefault(b.Tensor) ?? Array.Empty<string>(),
            });
        }
        nodeRows.Sort((x, y) => CompareSqnr(x.OwnSqnr, y.OwnSqnr));

        var labelled = labelOutput >= 0 ? outputRows[labelOutput] : outputRows.FirstOrDefault(o => o.IsClassifier);
        var summary = new AccuracySummary
        {
            Reference = Describe(reference),
            Candidate = Describe(candidate),
            Rows = rows,
            Batches = batches,
            ReferenceAccuracy = labelled?.ReferenceAccuracy,
            CandidateAccuracy = labelled?.CandidateAccuracy,
            AccuracyDrop = labelled?.AccuracyDrop,
            Top1Agreement = labelled?.Top1Agreement,
            Top5Agreement = labelled?.Top5Agreement,
            MinOutputSqnr = outputRows.Min(o => o.Sqnr),
            WorstNode = nodeRows.FirstOrDefault()?.Node,
            Elapsed = clock.Elapsed,
        };
        return new AccuracyReport
        {
            Summary = summary,
            Outputs = outputRows,
            Tensors = tensorRows,
            Nodes = nodeRows,
            Suggestion = plan != null ? Suggest(nodeRows, options) : ExclusionSuggestion.None,
            Histograms = histogramMap,
            Notes = notes.Concat(gaps.Where(g => g.IsNoticeable).Select(KernelGapMeter.Explain)).ToList(),
            KernelGaps = gaps,
            Embedding = embedding?.Result(),
        };
    }

    /// <summary>Greedy by own error: the worst nodes first, every node whose own SQNR is under the target,
    /// at most <see cref="ComparisonOptions.MaxSuggestedNodes"/>. When a node's output Q/DQ pair alone is
    /// under the target too, the quantized readers of that output follow it: the pair stays as long as
    /// any of them is quantized, so keeping only the producer in float would not remove it.</summary>
    internal static ExclusionSuggestion Suggest(IReadOnlyList<NodeComparison> worstFirst, ComparisonOptions options)
    {
        double target = options.SuggestionSqnrDb;
        var names = new List<string>();
        foreach (var n in worstFirst)
        {
            if (n.OwnSqnr >= target || names.Count >= options.MaxSuggestedNodes) break;
            var group = new List<string> { n.Node };
            if (n.OutputQdqSqnr is double q && !(q >= target)) group.AddRange(n.OutputConsumers);
            foreach (var g in group)
                if (!g.StartsWith('(') && !names.Contains(g) && names.Count < options.MaxSuggestedNodes) names.Add(g);
        }
        string reason = names.Count == 0
            ? $"Every quantized node's own error is above {target} dB SQNR."
            : $"{names.Count} node(s) with an own-error SQNR under {target} dB, worst first (with the readers of a badly quantized output).";
        return new ExclusionSuggestion { ExcludeNode = names.ToArray(), TargetSqnrDb = target, Reason = reason };
    }

    /// <summary>Samples bound to the reference's inputs and grouped into batches of BatchSize rows
    /// (when the batch axis is dynamic), read lazily: one batch in memory at a time.</summary>
    private static IEnumerable<SampleBatch> Batches(OnnxModel model, IEnumerable<object> items, ComparisonOptions options)
    {
        var binder = new InputBinder(model);
        bool canBatch = binder.CanBatch;
        var source = new SampleSource(items, new SampleSourceOptions { SplitRows = canBatch && binder.Inputs.Count == 1 ? options.BatchSize : null });
        var batcher = new SampleBatcher(canBatch, options.BatchSize);
        foreach (var item in source.Read())
        {
            Exception? error = item.Error;
            BoundSample? bound = null;
            if (error == null)
            {
                try { bound = binder.Bind(item.Sample!); }
                catch (SampleMismatchException e) { error = e; }
            }
            if (error != null)
            {
                // Labels follow rows in order: a skipped sample would shift them, so it cannot be skipped.
                if (options.OnSampleError == null || options.Labels != null) throw error;
                if (options.OnSampleError(new SampleError(item.Source, error)) == SampleErrorAction.Stop) break;
                continue;
            }
            foreach (var b in batcher.Add(bound!)) yield return b;
        }
        foreach (var b in batcher.Flush()) yield return b;
    }

    // The path, or the graph name of an in-memory model (what the model's ToString says; the formats rely on it).
    private static string Describe(OnnxModel m) => m.ToString();

    private static void Validate(ComparisonOptions o)
    {
        if (o.BatchSize < 1) throw new ArgumentException($"BatchSize must be at least 1; got {o.BatchSize}.", nameof(o));
        if (o.TopK < 1) throw new ArgumentException($"TopK must be at least 1; got {o.TopK}.", nameof(o));
        if (o.MaxSuggestedNodes < 0) throw new ArgumentException($"MaxSuggestedNodes cannot be negative; got {o.MaxSuggestedNodes}.", nameof(o));
        if (o.HistogramBins < 2 || o.HistogramBins % 2 != 0) throw new ArgumentException($"HistogramBins must be even and at least 2; got {o.HistogramBins}.", nameof(o));
        if (double.IsNaN(o.SuggestionSqnrDb)) throw new ArgumentException("SuggestionSqnrDb is NaN.", nameof(o));
        if (o.Labels != null && o.Labels.Count == 0) throw new ArgumentException("Labels is empty.", nameof(o));
        o.Timing?.Validate();
        o.Embedding?.Validate();
    }

    /// <summary>The session of the branch model, or null (with a note) when ONNX Runtime cannot load it:
    /// the rest of the per-tensor analysis does not depend on it.</summary>
    private static ModelRunner? TryBranchRunner(PerTensorPlan plan, ModelRunner refRunner, List<string> notes)
    {
        var bytes = plan.BranchModelBytes(refRunner.OutputElementType);
        if (bytes == null) return null;
        try { return new ModelRunner(bytes, optimize: false); }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e)
        {
            notes.Add($"Own errors of nodes were not measured: ONNX Runtime cannot load the copies of the quantized nodes ({e.Message}).");
            return null;
        }
    }

    private static int WorstFirst(TensorComparison a, TensorComparison b)
    {
        int c = CompareSqnr(a.Sqnr, b.Sqnr);
        return c != 0 ? c : a.Order.CompareTo(b.Order);
    }

    // Ascending SQNR with NaN last (a NaN row is broken, not "worst" in a way one can rank).
    private static int CompareSqnr(double a, double b) =>
        double.IsNaN(a) ? (double.IsNaN(b) ? 0 : 1) : double.IsNaN(b) ? -1 : a.CompareTo(b);

    private static ReadOnlySpan<long> Slice(IReadOnlyList<long> labels, long start, int count)
    {
        if (labels is long[] array) return array.AsSpan((int)start, count);
        var part = new long[count];
        for (int i = 0; i < count; i++) part[i] = labels[(int)start + i];
        return part;
    }

    /// <summary>Reference and candidate output names to compare: same names, else the same positions.</summary>
    private static List<(string Reference, string Candidate)> PairOutputs(OnnxModel reference, OnnxModel candidate, ModelRunner rr, ModelRunner cr)
    {
        var refOut = reference.Proto.Graph.Output.Select(o => o.Name).ToList();
        var candOut = candidate.Proto.Graph.Output.Select(o => o.Name).ToList();
        var pairs = new List<(string, string)>();
        bool sameNames = refOut.All(candOut.Contains);
        for (int i = 0; i < refOut.Count; i++)
        {
            string c = sameNames ? refOut[i] : i < candOut.Count ? candOut[i] : "";
            if (c.Length > 0 && rr.IsFloatOutput(refOut[i]) && cr.IsFloatOutput(c)) pairs.Add((refOut[i], c));
        }
        return pairs;
    }
}
