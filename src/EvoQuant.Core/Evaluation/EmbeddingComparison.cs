namespace EvoQuant.Evaluation;

/// <summary>A sentence-embedding model's pooled embeddings, float against quantized
/// (<see cref="AccuracyReport.Embedding"/>): how close each row stays, and whether retrieval over them
/// ranks and picks documents as the float model does.</summary>
public sealed record EmbeddingComparison
{
    /// <summary>The hidden-state output that was pooled.</summary>
    public required string Output { get; init; }
    /// <summary>The input the attention mask was read from.</summary>
    public required string AttentionMask { get; init; }
    /// <summary>Rows (sentences) compared.</summary>
    public required long Rows { get; init; }
    /// <summary>Width of an embedding.</summary>
    public required int Hidden { get; init; }

    /// <summary>Mean over rows of the cosine between the float and the quantized embedding of a sentence.</summary>
    public required double MeanCosine { get; init; }
    /// <summary>The lowest of those cosines.</summary>
    public required double MinCosine { get; init; }
    /// <summary>The row (0-based, in sample order) with <see cref="MinCosine"/>.</summary>
    public required long WorstRow { get; init; }

    /// <summary>Queries: the first rows.</summary>
    public required int Queries { get; init; }
    /// <summary>Documents: the rows after the queries.</summary>
    public required int Documents { get; init; }

    /// <summary>Spearman correlation of the query x document cosines, float against quantized (1: the
    /// quantized model orders every pair as the float model does); null with fewer than 2 pairs.</summary>
    public double? SpearmanCorrelation { get; init; }

    /// <summary>Percent of queries whose nearest document (highest cosine) is the same for both models;
    /// null without documents.</summary>
    public double? NeighbourAgreement { get; init; }

    public override string ToString() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"cosine mean {MeanCosine:F4} min {MinCosine:F4}; Spearman {SpearmanCorrelation:F4}, top-1 neighbours {NeighbourAgreement:F1}% ({Queries} x {Documents})");
}
