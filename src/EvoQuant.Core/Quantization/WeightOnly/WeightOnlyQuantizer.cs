using EvoQuant.Onnx;

namespace EvoQuant.Quantization.WeightOnly;

/// <summary>Runs <see cref="WeightOnlyRewriter"/> and reports what it did, layer by layer; called by
/// <see cref="ModelQuantizer"/> for <see cref="QuantMode.WeightOnly"/>.</summary>
internal static class WeightOnlyQuantizer
{
    public static QuantizationResult Quantize(OnnxModel model, QuantizationOptions options, OpQuantizerRegistry registry, IProgress<string>? progress, CancellationToken ct)
    {
        if (WeightOnlyDefaults.FormOf(options) == WeightOnlyForm.Logarithmic) return LogarithmicWeightOnly.Quantize(model, options, progress);
        var warnings = new List<string>();
        // The rewrite reads each weight once: the bytes read so far are its percentage.
        var rewriter = new WeightOnlyRewriter(WeightReadProgress.Observe(model, progress, "Quantizing weights (weight-only)"), options, registry, warnings);
        var quantized = model.With(rewriter.Rewrite(ct), options.StreamedData);
        if (rewriter.QuantizedNodes.Count == 0)
            warnings.Add("No node was quantized: weight-only quantization rewrites MatMul and Gemm with a constant 2-D float weight, and Gather of a constant 2-D table.");
        ModelQuantizer.VerifyIfAsked(options, model, quantized, warnings, progress);
        var w = options.WeightOnly;
        return new QuantizationResult
        {
            Model = quantized,
            SourceModel = model,
            Format = options.Format,
            Mode = QuantMode.WeightOnly,
            ActivationType = options.ActivationType,
            WeightType = w.Bits == 4 ? (w.Symmetric ? Numerics.QuantType.Int4 : Numerics.QuantType.UInt4) : (w.Symmetric ? Numerics.QuantType.Int8 : Numerics.QuantType.UInt8),
            PerChannel = false,
            Target = rewriter.Context.Target,
            TargetDecisions = new[] { $"weight-only {w.Bits}-bit blocks of {w.BlockSize} ({(w.Symmetric ? "symmetric" : "asymmetric")}, {w.Method.Name}) as {rewriter.Form}{(w.Form == null ? $", the form for {rewriter.Context.Target.Resolved}" : "")}" },
            QuantizedNodes = rewriter.QuantizedNodes,
            Skipped = rewriter.Skipped,
            Provenance = rewriter.Provenance,
            Warnings = warnings,
            WeightBytesBefore = model.WeightBytes,
            WeightBytesAfter = quantized.WeightBytes,
            FileSizeBefore = model.SizeOnDisk,
            WeightOnlyForm = rewriter.Form,
            WeightOnlyLayers = rewriter.Layers,
        };
    }
}
