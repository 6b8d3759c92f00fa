namespace EvoQuant.Quantization;

/// <summary>The nodes kept in float, told briefly: nodes kept for the same reason are one line (a model of
/// 33 blocks gives one line for its 33 Add nodes, not 33), with the first few names.</summary>
public static class SkippedSummary
{
    private const int NamesShown = 3;

    public static IReadOnlyList<string> Lines(IEnumerable<SkippedNode> skipped) =>
        skipped.GroupBy(s => (s.OpType, s.Reason))
            .Select(g => g.Count() == 1
                ? g.First().ToString()
                : $"{g.Count()} {g.Key.OpType} nodes ({string.Join(", ", g.Take(NamesShown).Select(s => s.Name))}{(g.Count() > NamesShown ? ", ..." : "")}): {g.Key.Reason}")
            .ToList();
}
