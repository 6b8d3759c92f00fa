namespace EvoQuant.Calibration;

/// <summary>How a batch whose fetched tensors exceed the output budget is cut into ONNX Runtime runs.
/// Rows first: sub-batches of at most <see cref="RowsPerRun"/> rows, each run once by the model that
/// fetches every tensor, so the batch costs one inference whatever the budget. Tensors only when one row
/// alone exceeds the budget: then the <see cref="OutputGroups"/> of one row, each run on every row.
/// A batch that cannot be cut (static batch axis) is planned as a single row.</summary>
internal sealed record RunPlan(long RowsPerRun, List<List<string>> Groups)
{
    /// <summary>Plans from each tensor's bytes per row (absent: unknown, counts as 0; all unknown: whole
    /// batches in one group).</summary>
    public static RunPlan Create(IReadOnlyList<string> tensors, IReadOnlyDictionary<string, long> rowBytes, long budget)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(budget, 1);
        long row = Sum(tensors, rowBytes);
        if (row > budget) return new RunPlan(1, OutputGroups.Plan(tensors, rowBytes, budget));
        return new RunPlan(row == 0 ? long.MaxValue : budget / row, new List<List<string>> { tensors.ToList() });
    }

    /// <summary>Whether a full run of the plan would now exceed the budget (sizes grew since planning);
    /// a group of one tensor on one row cannot be cut further and never overflows.</summary>
    public bool Overflows(IReadOnlyDictionary<string, long> rowBytes, long budget) =>
        RowsPerRun > 1 ? Sum(Groups[0], rowBytes) > budget / RowsPerRun : OutputGroups.Overflows(Groups, rowBytes, budget);

    private static long Sum(IEnumerable<string> tensors, IReadOnlyDictionary<string, long> bytes) =>
        tensors.Sum(t => bytes.GetValueOrDefault(t));
}
