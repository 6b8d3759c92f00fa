using EvoQuant.Data;
using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Calibration;

/// <summary><see cref="CalibrationMethod.Auto"/>'s output check. The per-tensor choice scores each range at its
/// tensor, which does not see how errors add up through the graph, what the quantizer does with a range (a one-sided
/// range folds a Relu/Clip into its producer) nor the weights' own error: on a model where those decide, the
/// per-tensor choice can end below a single method used everywhere. So the whole model is quantized as it will be
/// (with the quantization options given) with the per-tensor choice and with each single method's ranges (MinMax,
/// Entropy, Percentile: the proposals Auto already holds), each is run on the kept calibration rows beside the float
/// model, and the one of highest output SQNR is kept, the per-tensor choice on a tie. Auto's output on those rows is
/// then never below a single method's. Memory: the kept rows (<see cref="SearchSamples"/>), one quantized model and
/// session at a time, and one run's outputs; the float model is run again for each candidate instead of keeping its
/// outputs.</summary>
public static class AutoModelCheck
{
    /// <summary>The single methods scored against the per-tensor choice, in the order ties go.</summary>
    public static IReadOnlyList<CalibrationMethod> Methods { get; } =
        new[] { CalibrationMethod.MinMax, CalibrationMethod.Entropy, CalibrationMethod.Percentile };

    /// <summary>The rows of <paramref name="perTensor"/> (Auto's, with their <see cref="TensorRange.Candidates"/>),
    /// each with <see cref="TensorRange.ModelChoice"/> set and, when a single method won, that method's range and
    /// name. Returned as they are when there is no row to compare on or the model has no float output.</summary>
    /// <param name="batchRows">Rows per run (the calibration's batch size, so a run's working memory stays what the
    /// calibration's was); 0: the batches as given.</param>
    public static IReadOnlyList<TensorRange> Run(OnnxModel model, IReadOnlyList<TensorRange> perTensor,
        IReadOnlyList<IReadOnlyDictionary<string, NamedTensor>> batches, QuantizationOptions quantization,
        OpQuantizerRegistry? registry = null, int intraOpThreads = 0, int batchRows = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(perTensor);
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentNullException.ThrowIfNull(quantization);
        registry ??= OpQuantizerRegistry.Default;
        var outputs = model.Proto.Graph.Output.Where(o => o.Type?.TensorType?.ElemType == ElementTypes.Float).Select(o => o.Name).ToList();
        if (batches.Count == 0 || outputs.Count == 0 || perTensor.Count == 0) return perTensor;

        var candidates = new List<(CalibrationMethod? Method, Dictionary<string, ActivationRange> Ranges)>
        {
            (null, perTensor.ToDictionary(r => r.Tensor, r => new ActivationRange(r.RangeMin, r.RangeMax), StringComparer.Ordinal)),
        };
        foreach (var m in Methods)
            candidates.Add((m, perTensor.ToDictionary(r => r.Tensor, r => Proposal(r, m), StringComparer.Ordinal)));

        if (batchRows > 0) batches = batches.SelectMany(b => Split(b, batchRows)).ToList();
        using var feed = new EasyQuantSearch.Feed(batches);
        using var floatSession = EasyQuantSearch.Open(EasyQuantSearch.WithInputs(model, Array.Empty<string>(), outputs), intraOpThreads);
        using var runOptions = new RunOptions();
        using var cancel = cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);
        long rows = batches.Sum(b => b.Values.FirstOrDefault(t => t.Rank > 0)?.Rows ?? 1);
        var scores = new List<OutputScore>();
        for (int i = 0; i < candidates.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (method, ranges) = candidates[i];
            // The same ranges as an earlier candidate (Entropy keeping every whole range, as MinMax): the same model.
            int same = candidates.FindIndex(0, i, c => SameRanges(c.Ranges, ranges));
            double sqnr = same >= 0 ? scores[same].Sqnr : Score(model, ranges, quantization, registry, outputs, feed, floatSession, runOptions, intraOpThreads, cancellationToken);
            scores.Add(new OutputScore(method, sqnr));
        }
        var best = scores[0];
        foreach (var s in scores.Skip(1))
            if (s.Sqnr > best.Sqnr || (double.IsNaN(best.Sqnr) && !double.IsNaN(s.Sqnr))) best = s;
        var choice = new AutoModelChoice(best.Method, rows, scores);
        return perTensor.Select(r =>
        {
            if (best.Method is not { } m) return r with { ModelChoice = choice };
            var p = Proposal(r, m);
            return r with { Method = m, RangeMin = p.Min, RangeMax = p.Max, ModelChoice = choice };
        }).ToList();
    }

    // The batch in runs of at most the given rows (whole when its inputs do not all have its rows along axis 0).
    private static IEnumerable<IReadOnlyDictionary<string, NamedTensor>> Split(IReadOnlyDictionary<string, NamedTensor> batch, int rows)
    {
        long n = batch.Values.FirstOrDefault()?.Rank > 0 ? batch.Values.First().Rows : 0;
        if (n <= rows || !batch.Values.All(t => t.Rank > 0 && t.Rows == n)) { yield return batch; yield break; }
        for (long at = 0; at < n; at += rows)
            yield return batch.ToDictionary(p => p.Key, p => p.Value.SliceRows(at, Math.Min(rows, n - at)), StringComparer.Ordinal);
    }

    // A method's proposal for the row; the row's own range when the method proposed none.
    private static ActivationRange Proposal(TensorRange r, CalibrationMethod m) =>
        r.Candidates?.FirstOrDefault(c => c.Method == m) is { } c ? new ActivationRange(c.RangeMin, c.RangeMax) : new ActivationRange(r.RangeMin, r.RangeMax);

    private static bool SameRanges(Dictionary<string, ActivationRange> a, Dictionary<string, ActivationRange> b) =>
        a.Count == b.Count && a.All(p => b.TryGetValue(p.Key, out var q) && q == p.Value);

    // The mean over the outputs of the quantized model's SQNR against the float model on the kept rows (NaN: -inf).
    private static double Score(OnnxModel model, Dictionary<string, ActivationRange> ranges, QuantizationOptions quantization,
        OpQuantizerRegistry registry, List<string> outputs, EasyQuantSearch.Feed feed, InferenceSession floatSession,
        RunOptions runOptions, int intraOpThreads, CancellationToken ct)
    {
        var q = ModelQuantizer.Quantize(model, quantization with { ActivationRanges = ranges }, registry, null, ct);
        var qOutputs = outputs.Select(o => q.Provenance?.OutputNameOf(o) ?? o).ToList();
        using var session = EasyQuantSearch.Open(EasyQuantSearch.WithInputs(q.Model, Array.Empty<string>(), qOutputs), intraOpThreads);
        var sums = new ErrorMetrics.Sums[outputs.Count];
        var counts = new long[outputs.Count];
        for (int k = 0; k < feed.Count; k++)
        {
            ct.ThrowIfCancellationRequested();
            using var want = floatSession.Run(runOptions, feed.Names(k), feed.Values(k), outputs);
            using var got = session.Run(runOptions, feed.Names(k), feed.Values(k), qOutputs);
            for (int o = 0; o < outputs.Count; o++)
            {
                var r = want[o].GetTensorDataAsSpan<float>();
                sums[o].Merge(ErrorMetrics.Sums.Compute(r, got[o].GetTensorDataAsSpan<float>()));
                counts[o] += r.Length;
            }
        }
        double total = 0;
        for (int o = 0; o < outputs.Count; o++)
        {
            double s = sums[o].ToSummary(counts[o]).Sqnr;
            total += double.IsNaN(s) ? double.NegativeInfinity : s;
        }
        return total / outputs.Count;
    }
}
