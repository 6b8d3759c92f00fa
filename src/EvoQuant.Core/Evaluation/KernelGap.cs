using EvoQuant.Data;
using EvoQuant.Numerics;
using EvoQuant.Onnx;

namespace EvoQuant.Evaluation;

/// <summary>One output of a QDQ model as ONNX Runtime deploys it (Q/DQ pairs fused into integer
/// kernels) and as simulated (every Q/DQ computed in float, no fusion), each against the float model.
/// Per-tensor blame and the accuracy-driven search see the simulation; users get the deployed model.</summary>
/// <param name="Output">The candidate's graph output.</param>
/// <param name="DeployedSqnr">SQNR of the deployed output against float, in dB.</param>
/// <param name="SimulatedSqnr">SQNR of the simulated output against float, in dB.</param>
/// <param name="Rows">Rows measured (the first batch).</param>
public sealed record KernelGap(string Output, double DeployedSqnr, double SimulatedSqnr, long Rows)
{
    /// <summary>A deployed output this much worse than its simulation is worth telling the user about.</summary>
    public const double NoticeableDb = 3;

    /// <summary>How much the integer kernels lose beyond the simulation, in dB.</summary>
    public double GapDb => SimulatedSqnr - DeployedSqnr;

    public bool IsNoticeable => GapDb > NoticeableDb;
}

/// <summary>Measures <see cref="KernelGap"/>s and explains them.</summary>
public static class KernelGapMeter
{
    /// <summary>True for a model whose integer kernels exist only once ONNX Runtime fuses its Q/DQ pairs.</summary>
    public static bool HasQdq(OnnxModel model) =>
        model.Proto.Graph.Node.Any(n => n.OpType is "QuantizeLinear" or "DequantizeLinear");

    /// <summary>Runs the three models on one batch and compares each paired float output.</summary>
    public static IReadOnlyList<KernelGap> Measure(OnnxModel reference, OnnxModel candidate, IReadOnlyDictionary<string, NamedTensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(candidate);
        using var r = new ModelRunner(reference, optimize: true);
        using var candidateFile = RuntimeModelFile.For(candidate);
        using var deployed = new ModelRunner(candidateFile, optimize: true);
        using var simulated = new ModelRunner(candidateFile, optimize: false);
        var names = deployed.OutputMetadata.Keys.Where(o => deployed.IsFloatOutput(o) && r.IsFloatOutput(o)).ToList();
        using var rr = r.Run(inputs, names);
        using var dr = deployed.Run(inputs, names);
        return Measure(simulated, inputs, names.Select(n => (n, n)).ToList(), rr, dr);
    }

    internal static IReadOnlyList<KernelGap> Measure(ModelRunner simulated, IReadOnlyDictionary<string, NamedTensor> inputs,
        IReadOnlyList<(string Reference, string Candidate)> outputs, ModelRunner.RunResult reference, ModelRunner.RunResult deployed)
    {
        using var s = simulated.Run(inputs, outputs.Select(o => o.Candidate).Distinct(StringComparer.Ordinal).ToList());
        return outputs.Select(o =>
        {
            var f = reference.Data(o.Reference);
            return new KernelGap(o.Candidate, ErrorMetrics.Sqnr(f, deployed.Data(o.Candidate)), ErrorMetrics.Sqnr(f, s.Data(o.Candidate)),
                reference.Shape(o.Reference) is { Length: > 0 } sh ? sh[0] : 1);
        }).ToList();
    }

    /// <summary>What a noticeable gap means, the likely cause on this CPU, and the fix.</summary>
    public static string Explain(KernelGap gap)
    {
        string cause = Targets.TargetProfile.Resolve(Targets.QuantTarget.Host).PairsCanSaturate
            ? "likely saturation: this CPU has no VNNI, so ONNX Runtime adds pairs of u8 x s8 products into 16-bit sums; " +
              "quantize with -WeightSaturation PairSafe (the default for -Target Host here) or -ReduceRange"
            : "the fused integer kernels round or clip differently from the simulation, or a Q/DQ pair was not fused; " +
              "compare per tensor and keep the worst nodes in float";
        return $"Output '{gap.Output}': the model ONNX Runtime runs gives {gap.DeployedSqnr:N1} dB, its simulation " +
               $"{gap.SimulatedSqnr:N1} dB (first {gap.Rows} rows): {cause}. Per-tensor figures are measured on the simulation.";
    }
}
