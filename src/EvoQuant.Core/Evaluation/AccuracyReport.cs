using EvoQuant.Numerics;

namespace EvoQuant.Evaluation;

/// <summary>The result of <see cref="AccuracyComparer.Compare"/>: a summary, one row per model output,
/// and with per-tensor analysis one row per tensor and per node, worst first.</summary>
public sealed class AccuracyReport
{
    public required AccuracySummary Summary { get; init; }

    /// <summary>One row per compared output of the models.</summary>
    public required IReadOnlyList<OutputComparison> Outputs { get; init; }

    /// <summary>Activations and weights, sorted by SQNR, worst first (empty without per-tensor analysis).</summary>
    public IReadOnlyList<TensorComparison> Tensors { get; init; } = Array.Empty<TensorComparison>();

    /// <summary>Quantized nodes, sorted by their own error (SQNR of the node run on the float inputs), worst first.</summary>
    public IReadOnlyList<NodeComparison> Nodes { get; init; } = Array.Empty<NodeComparison>();

    /// <summary>Nodes to keep in float (<c>Invoke-Quantization -ExcludeNode $report.Suggestion.ExcludeNode</c>).</summary>
    public ExclusionSuggestion Suggestion { get; init; } = ExclusionSuggestion.None;

    /// <summary>Histograms of the reference activations (per-tensor analysis), by tensor name.</summary>
    public IReadOnlyDictionary<string, ActivationHistogram> Histograms { get; init; } = new Dictionary<string, ActivationHistogram>();

    /// <summary>What could not be measured, and why.</summary>
    public IReadOnlyList<string> Notes { get; init; } = Array.Empty<string>();

    /// <summary>Activation tensors in graph order (the order of the per-tensor chart).</summary>
    public IEnumerable<TensorComparison> TensorsInGraphOrder => Tensors.Where(t => t.Kind == TensorKind.Activation).OrderBy(t => t.Order).ThenBy(t => t.Tensor, StringComparer.Ordinal);
}

/// <summary>The headline figures of a comparison.</summary>
public sealed record AccuracySummary
{
    public required string Reference { get; init; }
    public required string Candidate { get; init; }

    /// <summary>Rows (along axis 0) run through both models.</summary>
    public required long Rows { get; init; }
    public required int Batches { get; init; }

    /// <summary>Top-1 accuracy (percent) of each model on the labels, when labels were given.</summary>
    public double? ReferenceAccuracy { get; init; }
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

    public required TimeSpan Elapsed { get; init; }
}

/// <summary>Errors of one model output, with classification figures when the output looks like logits.</summary>
public sealed record OutputComparison
{
    public required string Output { get; init; }
    public required long Count { get; init; }
    public required double Mse { get; init; }
    public required double MaxAbsError { get; init; }
    public required double MeanAbsError { get; init; }
    public required double CosineSimilarity { get; init; }
    public required double Sqnr { get; init; }

    /// <summary>True for a 2-D [N, C] output with C &gt; 1.</summary>
    public bool IsClassifier { get; init; }
    public double? Top1Agreement { get; init; }
    public double? Top5Agreement { get; init; }
    public double? ReferenceAccuracy { get; init; }
    public double? CandidateAccuracy { get; init; }
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
    public required string Tensor { get; init; }
    public required TensorKind Kind { get; init; }

    /// <summary>The node that produces the activation (or consumes the weight); null for a graph input.</summary>
    public string? Node { get; init; }
    public string? OpType { get; init; }

    /// <summary>Position along the graph (topological index of the node; -1 for graph inputs).</summary>
    public required int Order { get; init; }

    /// <summary>The candidate tensor it was compared with (a DequantizeLinear output for quantized tensors).</summary>
    public required string CandidateTensor { get; init; }

    public required long Count { get; init; }
    public required double Mse { get; init; }
    public required double MaxAbsError { get; init; }
    public required double MeanAbsError { get; init; }
    public required double CosineSimilarity { get; init; }
    public required double Sqnr { get; init; }

    /// <summary>SQNR (dB) of the candidate's Q/DQ pair alone applied to the reference values of this
    /// tensor (its own quantization error; null when it is not quantized).</summary>
    public double? QdqSqnr { get; init; }

    /// <summary>The float range the candidate's quantization of this tensor can represent, when it is quantized per tensor.</summary>
    public double? QuantRangeMin { get; init; }
    public double? QuantRangeMax { get; init; }

    /// <summary>The calibrated range of this tensor, when the comparison was given one.</summary>
    public double? CalibrationMin { get; init; }
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
    public required string Node { get; init; }
    public required string OpType { get; init; }
    public required int Order { get; init; }

    /// <summary>The output tensor compared.</summary>
    public required string Tensor { get; init; }

    /// <summary>SQNR (dB) of the node's own error: quantized node on float inputs vs float node.</summary>
    public required double OwnSqnr { get; init; }
    public required double OwnCosineSimilarity { get; init; }
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

    public required string Reason { get; init; }

    /// <summary>An empty suggestion.</summary>
    public static ExclusionSuggestion None { get; } = new() { ExcludeNode = Array.Empty<string>(), TargetSqnrDb = double.NaN, Reason = "No per-tensor analysis was run." };
}
