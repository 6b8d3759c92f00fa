using EvoQuant.Quantization;

namespace EvoQuant.PowerShell.Infrastructure;

/// <summary>Quantization's progress for a cmdlet: stage names, and percentages where a stage has them
/// (Core reports <see cref="QuantizationProgress"/> to a progress object that takes it).</summary>
internal sealed class StageProgress(Action<string, int> handler) : IProgress<string>, IProgress<QuantizationProgress>
{
    public void Report(string stage) => handler(stage, -1);

    public void Report(QuantizationProgress value) => handler(value.Stage, value.Percent);
}
