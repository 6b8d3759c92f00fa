using EvoQuant.Data;
using EvoQuant.Numerics;
using EvoQuant.Onnx;

namespace EvoQuant.Evaluation;

/// <summary>How far one output of a QDQ model is, as ONNX Runtime deploys it (Q/DQ pairs fused into
/// integer kernels), from the same model simulated (every Q/DQ computed in float, no fusion).</summary>
/// <param name="Output">The graph output.</param>
/// <param name="Sqnr">SQNR of the deployed output against the simulated one, in dB (infinite when equal).</param>
public sealed record KernelGap(string Output, double Sqnr)
{
    /// <summary>Beyond this the integer kernels lose what the simulation does not show (saturation,
    /// a fusion that did not happen): worth telling the user.</summary>
    public const double NoticeableDb = 30;
}

/// <summary>Measures <see cref="KernelGap"/>: the simulation is what per-tensor blame and the
/// accuracy-driven search see; the deployed run is what users get.</summary>
public static class KernelGapMeter
{
    public static IReadOnlyList<KernelGap> Measure(OnnxModel quantized, IReadOnlyDictionary<string, NamedTensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(quantized);
        byte[] bytes = quantized.ToBytes();
        using var deployed = new ModelRunner(bytes, optimize: true);
        using var simulated = new ModelRunner(bytes, optimize: false);
        var outputs = deployed.OutputMetadata.Keys.Where(deployed.IsFloatOutput).ToList();
        using var d = deployed.Run(inputs, outputs);
        using var s = simulated.Run(inputs, outputs);
        return outputs.Select(o => new KernelGap(o, ErrorMetrics.Sqnr(s.Data(o), d.Data(o)))).ToList();
    }
}
