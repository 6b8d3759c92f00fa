using System.Numerics.Tensors;

namespace EvoQuant.Evaluation;

/// <summary>Accumulates a sentence-embedding model's pooled embeddings, float and quantized, batch by batch
/// (<see cref="EmbeddingOptions"/>), and compares them: the cosine of each row's pair (mean and worst, over
/// all rows), and a retrieval over the kept rows (queries x documents): Spearman correlation of the two
/// models' cosine matrices and nearest-document (top-1) agreement. Memory: only the pooled embeddings of the
/// queries and documents, [rows, hidden] per model, never the hidden states.</summary>
public sealed class EmbeddingComparer
{
    private readonly int? _queries;
    private readonly int? _documents;
    private readonly long _keep;
    private float[] _reference = Array.Empty<float>();
    private float[] _candidate = Array.Empty<float>();
    private long _kept;
    private double _cosineSum;
    private double _minCosine = double.PositiveInfinity;
    private long _worstRow = -1;

    /// <summary>Rows added so far.</summary>
    public long Rows { get; private set; }

    /// <summary>Embedding width (0 before the first rows).</summary>
    public int Hidden { get; private set; }

    /// <param name="queries">Rows taken as queries (null: a fifth of the rows, at most <see cref="EmbeddingOptions.DefaultMaxQueries"/>).</param>
    /// <param name="documents">Rows after them taken as documents (null: the rest, at most <see cref="EmbeddingOptions.DefaultMaxDocuments"/>).</param>
    public EmbeddingComparer(int? queries = null, int? documents = null)
    {
        if (queries is < 1) throw new ArgumentOutOfRangeException(nameof(queries), queries, "At least one query.");
        if (documents is < 1) throw new ArgumentOutOfRangeException(nameof(documents), documents, "At least one document.");
        _queries = queries;
        _documents = documents;
        _keep = (long)(queries ?? EmbeddingOptions.DefaultMaxQueries) + (documents ?? EmbeddingOptions.DefaultMaxDocuments);
    }

    /// <summary>Pools hidden states [rows, sequence, hidden] of both models over the attention mask [rows, sequence] and adds them.</summary>
    public void Add(ReadOnlySpan<float> referenceHidden, ReadOnlySpan<float> candidateHidden, ReadOnlySpan<long> attentionMask, int rows, int sequence, int hidden)
    {
        if (referenceHidden.Length != candidateHidden.Length)
            throw new ArgumentException($"The hidden states differ in size: {referenceHidden.Length} and {candidateHidden.Length} values.", nameof(candidateHidden));
        AddPooled(SentenceEmbeddings.MeanPool(referenceHidden, attentionMask, rows, sequence, hidden),
            SentenceEmbeddings.MeanPool(candidateHidden, attentionMask, rows, sequence, hidden), rows, hidden);
    }

    /// <summary>Adds normalised embeddings [rows, hidden] of both models (<see cref="SentenceEmbeddings.MeanPool"/>).</summary>
    public void AddPooled(ReadOnlySpan<float> reference, ReadOnlySpan<float> candidate, int rows, int hidden)
    {
        if (hidden < 1) throw new ArgumentOutOfRangeException(nameof(hidden), hidden, "An embedding has at least one value.");
        if (Hidden != 0 && hidden != Hidden) throw new ArgumentException($"Embeddings of width {hidden} after width {Hidden}.", nameof(hidden));
        if (reference.Length != (long)rows * hidden || candidate.Length != reference.Length)
            throw new ArgumentException($"Expected [{rows}, {hidden}] embeddings, got {reference.Length} and {candidate.Length} values.");
        Hidden = hidden;
        for (int r = 0; r < rows; r++)
        {
            double cosine = SentenceEmbeddings.Cosine(reference, candidate, r, hidden);
            _cosineSum += cosine;
            if (cosine < _minCosine || _worstRow < 0)
            {
                _minCosine = cosine;
                _worstRow = Rows + r;
            }
        }
        int keep = (int)Math.Min(rows, _keep - _kept);
        if (keep > 0)
        {
            Append(ref _reference, reference[..(keep * hidden)]);
            Append(ref _candidate, candidate[..(keep * hidden)]);
            _kept += keep;
        }
        Rows += rows;
    }

    private void Append(ref float[] store, ReadOnlySpan<float> values)
    {
        long used = _kept * Hidden;
        long needed = used + values.Length;
        if (needed > store.Length)
        {
            long capacity = Math.Min(Math.Max(needed, 2L * store.Length), _keep * Hidden);
            Array.Resize(ref store, (int)capacity);
        }
        values.CopyTo(store.AsSpan((int)used));
    }

    /// <summary>The comparison of everything added.</summary>
    /// <exception cref="InvalidOperationException">No rows were added.</exception>
    public EmbeddingComparison Result(string output, string attentionMask)
    {
        if (Rows == 0) throw new InvalidOperationException("No embeddings were added.");
        int queries = (int)Math.Min(_queries ?? Math.Clamp(_kept / 5, 1, EmbeddingOptions.DefaultMaxQueries), _kept);
        int documents = (int)Math.Min(_documents ?? EmbeddingOptions.DefaultMaxDocuments, _kept - queries);
        double? spearman = null, agreement = null;
        if (documents > 0)
        {
            var referenceScores = Similarities(_reference, queries, documents);
            var candidateScores = Similarities(_candidate, queries, documents);
            if (referenceScores.Length >= 2) spearman = SpearmanCorrelation.Compute(referenceScores, candidateScores);
            int same = 0;
            for (int q = 0; q < queries; q++)
            {
                var rr = referenceScores.AsSpan(q * documents, documents);
                var cr = candidateScores.AsSpan(q * documents, documents);
                if (ClassificationCounter.ArgMax(rr) == ClassificationCounter.ArgMax(cr)) same++;
            }
            agreement = 100.0 * same / queries;
        }
        return new EmbeddingComparison
        {
            Output = output, AttentionMask = attentionMask, Rows = Rows, Hidden = Hidden,
            MeanCosine = _cosineSum / Rows, MinCosine = _minCosine, WorstRow = _worstRow,
            Queries = queries, Documents = documents,
            SpearmanCorrelation = spearman, NeighbourAgreement = agreement,
        };
    }

    /// <summary>Cosines [queries, documents] of the first rows (queries) with the rows after them (documents).</summary>
    private float[] Similarities(float[] embeddings, int queries, int documents)
    {
        int h = Hidden;
        var scores = new float[(long)queries * documents];
        for (int q = 0; q < queries; q++)
        {
            var query = embeddings.AsSpan(q * h, h);
            for (int d = 0; d < documents; d++)
                scores[(long)q * documents + d] = TensorPrimitives.Dot(query, embeddings.AsSpan((queries + d) * h, h));
        }
        return scores;
    }
}
