namespace EvoQuant.Evaluation;

/// <summary>Running counts for a classifier-like output ([N, C], C &gt; 1): top-1 and top-k agreement of
/// the candidate with the reference, and, with labels, each model's correct predictions.</summary>
public sealed class ClassificationCounter
{
    /// <summary>k of the top-k agreement (5, or C when there are fewer classes).</summary>
    public int TopK { get; }

    /// <summary>C, the number of classes.</summary>
    public int Classes { get; }
    /// <summary>Rows seen.</summary>
    public long Rows { get; private set; }
    /// <summary>Rows where both top-1 classes agree.</summary>
    public long Top1Agree { get; private set; }
    /// <summary>Rows where the reference's top-1 is in the candidate's top-k.</summary>
    public long TopKAgree { get; private set; }
    /// <summary>Rows that came with a label.</summary>
    public long LabelledRows { get; private set; }
    /// <summary>Labelled rows the reference classifies right.</summary>
    public long ReferenceCorrect { get; private set; }
    /// <summary>Labelled rows the candidate classifies right.</summary>
    public long CandidateCorrect { get; private set; }

    /// <summary>Counts for outputs of <paramref name="classes"/> classes.</summary>
    public ClassificationCounter(int classes, int topK = 5)
    {
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "A classifier output has at least 2 classes.");
        Classes = classes;
        TopK = Math.Min(topK, classes);
    }

    /// <summary>Adds rows of logits (row-major [rows, Classes]); labels, when given, are one per row.</summary>
    public void Add(ReadOnlySpan<float> reference, ReadOnlySpan<float> candidate, ReadOnlySpan<long> labels = default)
    {
        if (reference.Length != candidate.Length || reference.Length % Classes != 0)
            throw new ArgumentException($"Expected equal [rows, {Classes}] outputs, got {reference.Length} and {candidate.Length} values.");
        int rows = reference.Length / Classes;
        bool labelled = !labels.IsEmpty;
        if (labelled && labels.Length != rows)
            throw new ArgumentException($"{labels.Length} labels for {rows} rows.", nameof(labels));
        for (int r = 0; r < rows; r++)
        {
            var rr = reference.Slice(r * Classes, Classes);
            var cr = candidate.Slice(r * Classes, Classes);
            int refTop = ArgMax(rr), candTop = ArgMax(cr);
            if (refTop == candTop) Top1Agree++;
            if (RankOf(cr, refTop) < TopK) TopKAgree++;
            if (labelled)
            {
                LabelledRows++;
                if (refTop == labels[r]) ReferenceCorrect++;
                if (candTop == labels[r]) CandidateCorrect++;
            }
        }
        Rows += rows;
    }

    /// <summary>Index of the largest value; the first one on ties, as numpy's argmax. NaN never wins.</summary>
    public static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++)
            if (row[i] > row[best] || float.IsNaN(row[best])) best = i;
        return best;
    }

    // Number of classes ranked strictly before index k (ties resolved by index, as a stable sort would).
    private static int RankOf(ReadOnlySpan<float> row, int k)
    {
        float v = row[k];
        int rank = 0;
        for (int i = 0; i < row.Length; i++)
            if (row[i] > v || (row[i] == v && i < k)) rank++;
        return rank;
    }

    /// <summary>Percentage of rows where the candidate's top-1 equals the reference's.</summary>
    public double Top1AgreementPercent => Percent(Top1Agree, Rows);

    /// <summary>Percentage of rows where the reference's top-1 is among the candidate's top-k.</summary>
    public double TopKAgreementPercent => Percent(TopKAgree, Rows);

    /// <summary>Top-1 accuracy (percent) of the reference; null without labels.</summary>
    public double? ReferenceAccuracyPercent => LabelledRows == 0 ? null : Percent(ReferenceCorrect, LabelledRows);
    /// <summary>Top-1 accuracy (percent) of the candidate; null without labels.</summary>
    public double? CandidateAccuracyPercent => LabelledRows == 0 ? null : Percent(CandidateCorrect, LabelledRows);

    private static double Percent(long n, long d) => d == 0 ? double.NaN : 100.0 * n / d;
}
