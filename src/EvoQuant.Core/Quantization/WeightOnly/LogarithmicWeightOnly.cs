using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Logarithmic;

namespace EvoQuant.Quantization.WeightOnly;

/// <summary>The <see cref="WeightOnlyForm.Logarithmic"/> form: <see cref="LogWeightQuantizer"/> over the nodes the
/// options select (op types, include/exclude patterns; <see cref="WeightOnlyOptions.EightBitNodes"/> and
/// first-and-last keep 8-bit codes), reported like the block forms, one <see cref="WeightOnlyLayer"/> per weight.</summary>
internal static class LogarithmicWeightOnly
{
    /// <summary>The op types whose weights are stored this way.</summary>
    public static readonly string[] OpTypes = { "Conv", "ConvTranspose", "MatMul", "Gemm" };

    public static QuantizationResult Quantize(OnnxModel model, QuantizationOptions options, IProgress<string>? progress)
    {
        var w = options.WeightOnly;
        var include = options.IncludeNodes.Select(p => new WildcardPattern(p)).ToList();
        var exclude = options.ExcludeNodes.Select(p => new WildcardPattern(p)).ToList();
        var eight = w.EightBitNodes.Select(p => new WildcardPattern(p)).ToList();
        var skipped = new List<SkippedNode>();
        bool Selected(NodeProto n)
        {
            if (!OpTypes.Contains(n.OpType) || !string.IsNullOrEmpty(n.Domain) && n.Domain != "ai.onnx") return false;
            string? reason = exclude.FirstOrDefault(p => p.IsMatch(n.Name)) is { } ex ? $"excluded by ExcludeNodes pattern '{ex.Pattern}'."
                : include.Count > 0 && !include.Any(p => p.IsMatch(n.Name)) ? "not matched by any IncludeNodes pattern."
                : options.OpTypes.Count > 0 && !options.OpTypes.Contains(n.OpType, StringComparer.OrdinalIgnoreCase) ? $"op type {n.OpType} is not in OpTypes."
                : null;
            if (reason != null) skipped.Add(new SkippedNode(n.Name, n.OpType, reason));
            return reason == null;
        }
        var selected = model.Graph.Proto.Node.Where(Selected).ToList();
        var firstAndLast = w.EightBitFirstAndLast && selected.Count > 0 ? new HashSet<NodeProto> { selected[0], selected[^1] } : new HashSet<NodeProto>();
        var chosen = selected.ToHashSet();

        WeightReadProgress.Stage(progress, "Storing weights as logarithmic codes");
        var log = LogWeightQuantizer.Quantize(model, new LogWeightOptions(w.Bits), n =>
            !chosen.Contains(n) ? null : firstAndLast.Contains(n) || eight.Any(p => p.IsMatch(n.Name)) ? 8 : w.Bits);
        var warnings = log.Warnings.ToList();
        if (log.Weights.Count == 0)
            warnings.Add("No weight was stored logarithmically: the Logarithmic form rewrites Conv, ConvTranspose, MatMul and Gemm with a constant float weight of 16 values or more.");
        ModelQuantizer.VerifyIfAsked(options, model, log.Model, warnings, progress);
        var layers = log.Weights.Select(r => new WeightOnlyLayer(r.Node, r.OpType, r.Tensor, (int)r.Dims[0], (int)(r.Dims.Aggregate(1L, (a, d) => a * d) / Math.Max(1, r.Dims[0])),
            r.Bits, 0, true, $"Log (1/{r.StepsPerOctave} octave)", WeightOnlyForm.Logarithmic, r.Sqnr, r.Mse, r.BytesBefore, r.BytesAfter)).ToList();
        return new QuantizationResult
        {
            Model = log.Model,
            SourceModel = model,
            Format = options.Format,
            Mode = QuantMode.WeightOnly,
            ActivationType = options.ActivationType,
            WeightType = w.Bits == 4 ? Numerics.QuantType.Int4 : Numerics.QuantType.Int8,
            PerChannel = true,
            Target = Targets.TargetProfile.Resolve(options.Target),
            TargetDecisions = new[] { $"weight-only {w.Bits}-bit logarithmic codes, one scale per output channel, decoded at load (folded by ONNX Runtime)" },
            QuantizedNodes = log.Weights.Select(r => new QuantizedNode(r.Node, r.OpType)).ToList(),
            Skipped = skipped,
            Warnings = warnings,
            WeightBytesBefore = model.WeightBytes,
            WeightBytesAfter = log.Model.WeightBytes,
            FileSizeBefore = model.SizeOnDisk,
            WeightOnlyForm = WeightOnlyForm.Logarithmic,
            WeightOnlyLayers = layers,
        };
    }
}
