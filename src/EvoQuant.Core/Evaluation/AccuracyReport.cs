using EvoQuant.Numerics;

namespace EvoQuant.Evaluation;

/// <summary>The result of <see cref="AccuracyComparer.Compare"/>: a summary, one row per model output,
/// and with per-tensor analysis one row per tensor and per node, worst first.</summary>
public sealed class AccuracyReport
{
    /// <summary>The headline figures.</summary>
    public required AccuracySummary Summary { get; init; }

    /// <summary>One row per compared output of the models.</summary>
    public required IReadOnlyList<OutputComparison> Outputs { get; init; }

    /// <summary>Activations and weights, sorted by SQNR, worst first (empty without per-tensor analysis).</summary>
    public IReadOnlyList<TensorComparison> Tensors { get; init; } = Array.Empty<TensorComparison>();

    /// <summary>Quantized nodes, sorted by their own error (SQNR of the node run on the float inputs), worst first.</summary>
    public IReadOnlyList<NodeComparison> Nodes { get; init; } = Array.Empty<NodeComparison>();

    /// <summary>Nodes to keep in float (<c>Invoke-Quantization -ExcludeNode $report.Suggestion.ExcludeNode</c>).</summary>
    public ExclusionSuggestion Suggestion { get; init; } = ExclusionSuggestion.None;

    /// <summary>Histograms of the reference activations (per-tensor analysis), by tensor name, on the grid
    /// calibration uses (power-of-two bin widths anchored at 0).</summary>
    public IReadOnlyDictionary<string, Calibration.GridHistogram> Histograms { get; init; } = new Dictionary<string, Calibration.GridHistogram>();

    /// <summary>What could not be measured, and why.</summary>
    public IReadOnlyList<string> Notes { get; init; } = Array.Empty<string>();

    /// <summary>For QDQ candidates: each output as deployed (integer kernels) and as simulated, against
    /// float, on the first batch. A noticeable gap is also explained in <see cref="Notes"/>.</summary>
    public IReadOnlyList<KernelGap> KernelGaps { get; init; } = Array.Empty<KernelGap>();

    /// <summary>Both models timed on this machine (latency, throughput, speedups), when
    /// <see cref="ComparisonOptions.Timing"/> asked for it; null otherwise or when the timing failed (see <see cref="Notes"/>).</summary>
    public SpeedReport? Speed { get; init; }

    /// <summary>Pooled sentence embeddings, float against quantized, when
    /// <see cref="ComparisonOptions.Embedding"/> asked for them; null otherwise.</summary>
    public EmbeddingComparison? Embedding { get; init; }

    /// <summary>This report with <see cref="Speed"/> set (every other property carried over).</summary>
    internal AccuracyReport WithSpeed(SpeedReport? speed) => new()
    {
        Summary = Summary, Outputs = Outputs, Tensors = Tensors, Nodes = Nodes, Suggestion = Suggestion,
        Histograms = Histograms, Notes = Notes, KernelGaps = KernelGaps, Embedding = Embedding, Speed = speed,
    };

    /// <summary>Activation tensors in graph order (the order of the per-tensor chart).</summary>
    public IEnumerable<TensorComparison> TensorsInGraphOrder => Tensors.Where(t => t.Kind == TensorKind.Activation).OrderBy(t => t.Order).ThenBy(t => t.Tensor, StringComparer.Ordinal);
}

/// <summary>The headline figures of a comparison.</summary>
public sealed record AccuracySummary
{
    /// <summary>The reference (float) model: its path, or its graph name when in memory.</summary>
    public required string Reference { get; init; }
    /// <summary>The candidate (quantized) model: its path, or its graph name when in memory.</summary>
    public required string Candidate { get; init; }

    /// <summary>Rows (along axis 0) run through both models.</summary>
    public required long Rows { get; init; }
    /// <summary>ONNX Runtime runs per model (rows are grouped into batches of BatchSize).</summary>
    public required int Batches { get; init; }

    /// <summary>Top-1 accuracy (percent) of each model on the labels, when labels were given.</summary>
    public double? ReferenceAccuracy { get; init; }
    /// <summary>Top-1 accuracy (percent) of the candidate on the labels.</summary>
    public double? CandidateAccuracy { get; init; }

    /// <summary>ReferenceAccuracy - CandidateAccuracy, in percentage points.</summary>
    public double? AccuracyDrop { get; init; }

    /// <summary>Percent of rows where the candidate's top-1 equals the reference's (first classifier output).</summary>
    public double? Top1Agreement { get; init; }

    /// <summary>Percent of rows where the reference's top-1 is in the candidate's top-5.</summary>
    public double? Top5Agreement { get; init; }

    /// <summary>The smallest SQNR over the outputs, in dB.</summary>
    public required double MinOutputSqnr { get; init; }

    /// <summary>The worst node by own error (per-tensor analysis), or null.</summary>
    public string? WorstNode { get; init; }

    /// <summary>Wall time of the accuracy comparison, model loading included (the timing's own is in <see cref="SpeedReport.Elapsed"/>).</summary>
    public required TimeSpan Elapsed { get; init; }
}

/// <summary>Errors of one model output, with classification figures when the output looks like logits.</summary>
public sealed record OutputComparison
{
    /// <summary>Output name (the reference's).</summary>
    public required string Output { get; init; }
    /// <summary>Elements compared, over all rows.</summary>
    public required long Count { get; init; }
    /// <summary>Mean squared error.</summary>
    public required double Mse { get; init; }
    /// <summary>Largest absolute difference.</summary>
    public required double MaxAbsError { get; init; }
    /// <summary>Mean absolute difference.</summary>
    public required double MeanAbsError { get; init; }
    /// <summary>Cosine similarity of the whole tensors (1: same direction).</summary>
    public required double CosineSimilarity { get; init; }
    /// <summary>Signal-to-quantization-noise ratio in dB: 10 log10(sum ref^2 / sum (ref-cand)^2); +inf when equal.</summary>
    public required double Sqnr { get; init; }

    /// <summary>True for a 2-D [N, C] output with C &gt; 1.</summary>
    public bool IsClassifier { get; init; }
    /// <summary>Percent of rows where both models' top-1 agree (classifier outputs).</summary>
    public double? Top1Agreement { get; init; }
    /// <summary>Percent of rows where the reference's top-1 is in the candidate's top-k (k = TopK, 5 by default).</summary>
    public double? Top5Agreement { get; init; }
    /// <summary>Top-1 accuracy (percent) of the reference on the labels.</summary>
    public double? ReferenceAccuracy { get; init; }
    /// <summary>Top-1 accuracy (percent) of the candidate on the labels.</summary>
    public double? CandidateAccuracy { get; init; }
    /// <summary>ReferenceAccuracy - CandidateAccuracy, in points.</summary>
    public double? AccuracyDrop { get; init; }
}

/// <summary>What a per-tensor row measures.</summary>
public enum TensorKind
{
    /// <summary>An activation of the reference against its value in the candidate (error accumulated from the inputs on).</summary>
    Activation,

    /// <summary>A float weight against its dequantized integer version.</summary>
    Weight,
}

/// <summary>One tensor of the reference against its counterpart in the candidate.</summary>
public sealed record TensorComparison
{
    /// <summary>Tensor name in the reference.</summary>
    public required string Tensor { get; init; }
    /// <summary>Activation or weight.</summary>
    public required TensorKind Kind { get; init; }

    /// <summary>The node that produces the activation (or consumes the weight); null for a graph input.</summary>
    public string? Node { get; init; }
    /// <summary>Op type of <see cref="Node"/>.</summary>
    public string? OpType { get; init; }

    /// <summary>Position along the graph (topological index of the node; -1 for graph inputs).</summary>
    public required int Order { get; init; }

    /// <summary>The candidate tensor it was compared with (a DequantizeLinear output for quantized tensors).</summary>
    public required string CandidateTensor { get; init; }

    /// <summary>Elements compared, over all rows.</summary>
    public required long Count { get; init; }
    /// <summary>Mean squared error.</summary>
    public required double Mse { get; init; }
    /// <summary>Largest absolute difference.</summary>
    public required double MaxAbsError { get; init; }
    /// <summary>Mean absolute difference.</summary>
    public required double MeanAbsError { get; init; }
    /// <summary>Cosine similarity of the whole tensors (1: same direction).</summary>
    public required double CosineSimilarity { get; init; }
    /// <summary>Signal-to-quantization-noise ratio in dB: 10 log10(sum ref^2 / sum (ref-cand)^2); +inf when equal.</summary>
    public required double Sqnr { get; init; }

    /// <summary>SQNR (dB) of the candidate's Q/DQ pair alone applied to the reference values of this
    /// tensor (its own quantization error; null when it is not quantized).</summary>
    public double? QdqSqnr { get; init; }

    /// <summary>SQNR (dB) of 8-bit logarithmic codes of the reference values with the same largest magnitude as
    /// <see cref="QuantRangeMin"/>..<see cref="QuantRangeMax"/> (what log quantization of this activation would
    /// cost beside the linear <see cref="QdqSqnr"/>; no ONNX operator runs it; null when not quantized per tensor).</summary>
    public double? LogSqnr { get; init; }

    /// <summary>The float range the candidate's quantization of this tensor can represent, when it is quantized per tensor.</summary>
    public double? QuantRangeMin { get; init; }
    /// <summary>Upper end of <see cref="QuantRangeMin"/>'s range.</summary>
    public double? QuantRangeMax { get; init; }

    /// <summary>The calibrated range of this tensor, when the comparison was given one.</summary>
    public double? CalibrationMin { get; init; }
    /// <summary>Upper end of the calibrated range.</summary>
    public double? CalibrationMax { get; init; }

    internal static TensorComparison From(string tensor, TensorKind kind, string? node, string? opType, int order, string candidate, ErrorSummary s, (double, double)? range) => new()
    {
        Tensor = tensor, Kind = kind, Node = node, OpType = opType, Order = order, CandidateTensor = candidate,
        Count = s.Count, Mse = s.Mse, MaxAbsError = s.MaxAbsError, MeanAbsError = s.MeanAbsError,
        CosineSimilarity = s.CosineSimilarity, Sqnr = s.Sqnr, QuantRangeMin = range?.Item1, QuantRangeMax = range?.Item2,
    };
}

/// <summary>One quantized node: its own error (the quantized node fed the reference's float inputs,
/// against the float node) and the error accumulated at its output in the full candidate.</summary>
public sealed record NodeComparison
{
    /// <summary>Node name (or "(OpType -> outputs)" when unnamed).</summary>
    public required string Node { get; init; }
    /// <summary>Op type of the node.</summary>
    public required string OpType { get; init; }
    /// <summary>Position along the graph (topological index of the node).</summary>
    public required int Order { get; init; }

    /// <summary>The output tensor compared.</summary>
    public required string Tensor { get; init; }

    /// <summary>SQNR (dB) of the node's own error: quantized node on float inputs vs float node.</summary>
    public required double OwnSqnr { get; init; }
    /// <summary>Cosine similarity of the own error run.</summary>
    public required double OwnCosineSimilarity { get; init; }
    /// <summary>Mean squared error of the own error run.</summary>
    public required double OwnMse { get; init; }

    /// <summary>SQNR (dB) of the same tensor in the full candidate run (errors of all nodes before it), when matched.</summary>
    public double? AccumulatedSqnr { get; init; }

    /// <summary>SQNR (dB) of the output tensor's Q/DQ pair alone on the reference values; when it is about
    /// the own error, the output quantization is the cause.</summary>
    public double? OutputQdqSqnr { get; init; }

    /// <summary>Quantized nodes that read the output through its Q/DQ pair. The pair stays while any of
    /// them is quantized, so keeping only this node in float does not remove an output-quantization error.</summary>
    public string[] OutputConsumers { get; init; } = Array.Empty<string>();
}

/// <summary>Nodes to keep in float, from the ranked own errors.</summary>
public sealed record ExclusionSuggestion
{
    /// <summary>Node names, worst first; pass to <c>-ExcludeNode</c> / <c>QuantizationOptions.ExcludeNodes</c>.</summary>
    public required string[] ExcludeNode { get; init; }

    /// <summary>Own-error SQNR target (dB) the suggestion aims at.</summary>
    public required double TargetSqnrDb { get; init; }

    /// <summary>How the nodes were chosen.</summary>
    public required string Reason { get; init; }

    /// <summary>An empty suggestion.</summary>
    public static ExclusionSuggestion None { get; } = new() { ExcludeNode = Array.Empty<string>(), TargetSqnrDb = double.NaN, Reason = "No per-tensor analysis was run." };
}
