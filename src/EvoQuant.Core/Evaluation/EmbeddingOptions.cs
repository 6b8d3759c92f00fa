namespace EvoQuant.Evaluation;

/// <summary>How <see cref="AccuracyComparer"/> compares a sentence-embedding model's pooled embeddings
/// (<see cref="ComparisonOptions.Embedding"/>): the hidden states are mean-pooled over the attention mask
/// and L2-normalised (<see cref="SentenceEmbeddings"/>), then compared row by row and as a retrieval: the
/// first <see cref="Queries"/> rows are queries, the next <see cref="Documents"/> rows the documents.</summary>
public sealed record EmbeddingOptions
{
    /// <summary>Default for <see cref="AttentionMaskInput"/>: the BERT-family name.</summary>
    public const string DefaultAttentionMaskInput = "attention_mask";

    /// <summary>Default cap of <see cref="Queries"/>.</summary>
    public const int DefaultMaxQueries = 500;

    /// <summary>Default cap of <see cref="Documents"/>.</summary>
    public const int DefaultMaxDocuments = 2000;

    /// <summary>The hidden-state output [rows, sequence, hidden] (last_hidden_state); null: the first output
    /// of the reference.</summary>
    public string? HiddenStateOutput { get; init; }

    /// <summary>The input holding the attention mask [rows, sequence] (1 = token, 0 = padding).</summary>
    public string AttentionMaskInput { get; init; } = DefaultAttentionMaskInput;

    /// <summary>Rows taken as queries, from the first; null: a fifth of the rows, at most
    /// <see cref="DefaultMaxQueries"/>.</summary>
    public int? Queries { get; init; }

    /// <summary>Rows after the queries taken as documents; null: all of them, at most
    /// <see cref="DefaultMaxDocuments"/>. Only the queries' and documents' embeddings are kept; later rows
    /// count in the cosines only.</summary>
    public int? Documents { get; init; }

    internal void Validate()
    {
        if (string.IsNullOrEmpty(AttentionMaskInput)) throw new ArgumentException("AttentionMaskInput is empty.", nameof(AttentionMaskInput));
        if (Queries is < 1) throw new ArgumentException($"Queries must be at least 1; got {Queries}.", nameof(Queries));
        if (Documents is < 1) throw new ArgumentException($"Documents must be at least 1; got {Documents}.", nameof(Documents));
    }
}
