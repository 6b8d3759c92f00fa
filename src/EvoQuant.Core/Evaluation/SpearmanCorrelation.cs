namespace EvoQuant.Evaluation;

/// <summary>Spearman's rank correlation: the Pearson correlation of the values' ranks, tied values sharing
/// the mean of the ranks they span (as scipy.stats.spearmanr computes it). 1 when both orders agree, -1 when
/// one reverses the other; NaN when a side is constant (no order to compare) or holds a NaN.</summary>
public static class SpearmanCorrelation
{
    /// <summary>The correlation of two equally long series (at least two values).</summary>
    public static double Compute(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        if (x.Length != y.Length) throw new ArgumentException($"The series differ in length: {x.Length} and {y.Length}.", nameof(y));
        if (x.Length < 2) throw new ArgumentException("A rank correlation needs at least two values.", nameof(x));
        foreach (float v in x) if (float.IsNaN(v)) return double.NaN;
        foreach (float v in y) if (float.IsNaN(v)) return double.NaN;
        return Pearson(Ranks(x), Ranks(y));
    }

    /// <summary>1-based ranks in ascending order; ties get the mean of their ranks ("average" method).</summary>
    public static double[] Ranks(ReadOnlySpan<float> values)
    {
        var keys = values.ToArray();
        var order = new int[keys.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        Array.Sort(keys, order);
        var ranks = new double[keys.Length];
        for (int start = 0; start < keys.Length;)
        {
            int end = start + 1;
            while (end < keys.Length && keys[end] == keys[start]) end++;
            // Positions start..end-1 hold equal values: ranks start+1..end, whose mean is (start+1+end)/2.
            double rank = (start + 1 + end) / 2.0;
            for (int k = start; k < end; k++) ranks[order[k]] = rank;
            start = end;
        }
        return ranks;
    }

    private static double Pearson(double[] a, double[] b)
    {
        // Both are ranks of the same count, so they share the mean (n + 1) / 2.
        double mean = (a.Length + 1) / 2.0;
        double sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double da = a[i] - mean, db = b[i] - mean;
            sab += da * db;
            saa += da * da;
            sbb += db * db;
        }
        return saa == 0 || sbb == 0 ? double.NaN : sab / Math.Sqrt(saa * sbb);
    }
}
