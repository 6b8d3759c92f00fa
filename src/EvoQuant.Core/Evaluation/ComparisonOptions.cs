using EvoQuant.Calibration;
using EvoQuant.Data;

namespace EvoQuant.Evaluation;

/// <summary>How <see cref="AccuracyComparer"/> compares two models.</summary>
public sealed record ComparisonOptions
{
    /// <summary>Rows per ONNX Runtime run: samples with more rows along axis 0 are split (models with a
    /// dynamic batch axis), so memory is bounded by the batch, not the data.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Called for each sample that cannot be read or does not fit; null: the first such error is
    /// thrown. Not used with <see cref="Labels"/> (a skipped sample would shift the labels).</summary>
    public Func<SampleError, SampleErrorAction>? OnSampleError { get; init; }

    /// <summary>Class labels, one per row in sample order, for the first classifier-like output (or <see cref="LabelOutput"/>).</summary>
    public IReadOnlyList<long>? Labels { get; init; }

    /// <summary>The output the labels belong to; default: the first classifier-like output ([N, C], C &gt; 1).</summary>
    public string? LabelOutput { get; init; }

    /// <summary>k of the top-k agreement.</summary>
    public int TopK { get; init; } = 5;

    /// <summary>Also compare every intermediate float tensor and weight, and each node's own error.</summary>
    public bool PerTensor { get; init; }

    /// <summary>What the quantizer recorded about the candidate (<see cref="Quantization.QuantizationResult.Provenance"/>):
    /// the per-tensor analysis reads it; null infers it from the two graphs.</summary>
    public Quantization.Provenance.QuantizationProvenance? Provenance { get; init; }

    /// <summary>For QDQ candidates, also run the Q/DQ simulation on the first batch and report where the
    /// integer kernels ONNX Runtime runs lose more than it (<see cref="AccuracyReport.KernelGaps"/>).</summary>
    public bool CheckKernels { get; init; } = true;

    /// <summary>Own-error SQNR (dB) under which a node is suggested for exclusion.</summary>
    public double SuggestionSqnrDb { get; init; } = 20;

    /// <summary>At most this many nodes in the suggestion.</summary>
    public int MaxSuggestedNodes { get; init; } = 10;

    /// <summary>Bins a side of 0 of the activation histograms kept for the report (per-tensor mode): the
    /// values reach between half and all of them (<see cref="Calibration.GridHistogram"/>).</summary>
    public int HistogramBins { get; init; } = 128;

    /// <summary>Calibrated ranges (tensor name → min, max) to mark on the histograms; without them the
    /// range the candidate's QuantizeLinear actually uses is marked.</summary>
    public IReadOnlyDictionary<string, (float Min, float Max)>? CalibrationRanges { get; init; }

    /// <summary>Also compare the pooled sentence embeddings of a hidden-state output (mean over the
    /// attention mask, L2-normalised): cosines, Spearman correlation of query x document cosines, nearest
    /// neighbour agreement (<see cref="AccuracyReport.Embedding"/>); null: not an embedding model.</summary>
    public EmbeddingOptions? Embedding { get; init; }

    /// <summary>After the accuracy pass, time both models on the first rows of the samples
    /// (<see cref="SpeedComparer"/>) into <see cref="AccuracyReport.Speed"/>; null: no timing.</summary>
    public SpeedOptions? Timing { get; init; }

    /// <summary>These options with the ranges of a calibration table marked on the histograms.</summary>
    public ComparisonOptions WithCalibration(CalibrationTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        return this with { CalibrationRanges = table.Ranges.ToDictionary(r => r.Tensor, r => (r.RangeMin, r.RangeMax), StringComparer.Ordinal) };
    }
}

/// <summary>Progress of a comparison: rows and batches done.</summary>
public readonly record struct ComparisonProgress(long Rows, int Batches, string Phase);

/// <summary>Reads class labels for <see cref="ComparisonOptions.Labels"/>.</summary>
public static class LabelFile
{
    /// <summary>Labels from a .npy file of integers (any integer type, 1-D, or [N, 1]).</summary>
    /// <exception cref="ArgumentException">The file does not hold integers.</exception>
    public static long[] FromNpy(string path)
    {
        var t = NpyReader.Read(path);
        if (!TypedArrays.IsInteger(t.ElementType))
            throw new ArgumentException($"Labels in '{path}' are {t.ElementTypeName}; expected integers.", nameof(path));
        if (t.Rank > 2 || (t.Rank == 2 && t.Shape[1] != 1))
            throw new ArgumentException($"Labels in '{path}' have shape {t.ShapeText}; expected [N] or [N, 1].", nameof(path));
        return (long[])t.ConvertTo(Onnx.ElementTypes.Int64).Data;
    }
}
