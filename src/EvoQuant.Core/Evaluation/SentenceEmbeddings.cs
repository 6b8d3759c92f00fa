using System.Numerics.Tensors;

namespace EvoQuant.Evaluation;

/// <summary>Sentence embeddings as sentence-transformers computes them from a BERT-family model's
/// last_hidden_state: the mean of the token vectors over the attention mask, then L2-normalised, so the
/// cosine of two embeddings is their dot product.</summary>
public static class SentenceEmbeddings
{
    /// <summary>[rows, hidden] normalised embeddings from hidden states [rows, sequence, hidden] and the
    /// attention mask [rows, sequence] (1 = token, 0 = padding).</summary>
    public static float[] MeanPool(ReadOnlySpan<float> hiddenStates, ReadOnlySpan<long> attentionMask, int rows, int sequence, int hidden)
    {
        if (hiddenStates.Length != (long)rows * sequence * hidden)
            throw new ArgumentException($"{hiddenStates.Length} hidden values are not [{rows}, {sequence}, {hidden}].", nameof(hiddenStates));
        if (attentionMask.Length != (long)rows * sequence)
            throw new ArgumentException($"{attentionMask.Length} mask values are not [{rows}, {sequence}].", nameof(attentionMask));
        var pooled = new float[rows * hidden];
        for (int r = 0; r < rows; r++)
        {
            var target = pooled.AsSpan(r * hidden, hidden);
            int tokens = 0;
            for (int t = 0; t < sequence; t++)
            {
                if (attentionMask[r * sequence + t] == 0) continue;
                TensorPrimitives.Add(target, hiddenStates.Slice((r * sequence + t) * hidden, hidden), target);
                tokens++;
            }
            // sentence-transformers divides by max(tokens, 1e-9) and normalises with eps 1e-12: a row with
            // no token stays zero rather than NaN.
            if (tokens > 0) TensorPrimitives.Divide(target, tokens, target);
            float norm = TensorPrimitives.Norm(target);
            if (norm > 1e-12f) TensorPrimitives.Divide(target, norm, target);
        }
        return pooled;
    }

    /// <summary>Cosine of row <paramref name="row"/> of two normalised embedding sets.</summary>
    public static float Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int row, int hidden) =>
        TensorPrimitives.Dot(a.Slice(row * hidden, hidden), b.Slice(row * hidden, hidden));

    /// <summary>The cosine of every row of two normalised embedding sets [rows, hidden].</summary>
    public static double[] RowCosines(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int hidden)
    {
        if (hidden < 1 || a.Length != b.Length || a.Length % hidden != 0)
            throw new ArgumentException($"Embeddings of {a.Length} and {b.Length} values are not two [rows, {hidden}] sets.");
        var cosines = new double[a.Length / hidden];
        for (int r = 0; r < cosines.Length; r++) cosines[r] = Cosine(a, b, r, hidden);
        return cosines;
    }
}
