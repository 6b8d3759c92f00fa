namespace EvoQuant.Quantization.Provenance;

/// <summary>Counts the steps of a graph pass (nodes visited, edges followed), so a test can show that the
/// pass grows linearly with the graph without timing it.</summary>
internal sealed class WorkCounter
{
    public long Steps { get; private set; }

    public void Add(long steps = 1) => Steps += steps;
}
