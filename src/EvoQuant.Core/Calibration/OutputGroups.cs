namespace EvoQuant.Calibration;

/// <summary>Splits the tensors a calibration fetches into groups whose values fit a memory budget per
/// ONNX Runtime run. ONNX Runtime keeps every graph output of a run alive until the run ends (even those
/// not fetched), so bounding memory means one augmented model per group, each run on every row (or
/// uncut batch): the fallback of <see cref="RunPlan"/> when one row alone is over the budget.</summary>
internal static class OutputGroups
{
    /// <summary>Consecutive tensors (in the given order, which follows the graph) packed greedily while
    /// their bytes sum to at most <paramref name="budget"/>; a tensor larger than the budget alone forms
    /// its own group. Tensors of unknown size (absent from <paramref name="bytes"/>) count as 0.</summary>
    public static List<List<string>> Plan(IReadOnlyList<string> tensors, IReadOnlyDictionary<string, long> bytes, long budget)
    {
        var groups = new List<List<string>>();
        var current = new List<string>();
        long sum = 0;
        foreach (string t in tensors)
        {
            long b = bytes.GetValueOrDefault(t);
            if (current.Count > 0 && sum + b > budget)
            {
                groups.Add(current);
                current = new List<string>();
                sum = 0;
            }
            current.Add(t);
            sum += b;
        }
        if (current.Count > 0) groups.Add(current);
        return groups;
    }

    /// <summary>Whether some group of several tensors now exceeds the budget (sizes grew since planning).</summary>
    public static bool Overflows(IEnumerable<List<string>> groups, IReadOnlyDictionary<string, long> bytes, long budget) =>
        groups.Any(g => g.Count > 1 && g.Sum(t => bytes.GetValueOrDefault(t)) > budget);
}
