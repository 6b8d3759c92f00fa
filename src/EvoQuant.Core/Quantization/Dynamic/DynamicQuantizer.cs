using EvoQuant.Onnx;

namespace EvoQuant.Quantization.Dynamic;

/// <summary>Runs <see cref="DynamicRewriter"/> and reports what it did; called by
/// <see cref="ModelQuantizer.Quantize(OnnxModel, QuantizationOptions, IProgress{string}?, CancellationToken)"/>
/// for <see cref="QuantMode.Dynamic"/>.</summary>
internal static class DynamicQuantizer
{
    /// <param name="source">The user's model when <paramref name="model"/> is a rewrite of it in memory (smoothed): the result's source and size before.</param>
    public static QuantizationResult Quantize(OnnxModel model, QuantizationOptions options, OpQuantizerRegistry registry, IProgress<string>? progress, CancellationToken ct,
        OnnxModel? source = null)
    {
        var warnings = new List<string>();
        // The rewrite reads each weight once: the bytes read so far are its percentage.
        var rewriter = new DynamicRewriter(WeightReadProgress.Observe(model, progress, "Rewriting for dynamic quantization"), options, registry, warnings);
        var quantized = model.With(rewriter.Rewrite(ct), options.StreamedData);
        if (rewriter.QuantizedNodes.Count == 0)
            warnings.Add("No node was quantized: dynamic quantization rewrites MatMul, Gemm, Conv, LSTM and Gather with constant float weights.");
        var decisions = rewriter.Target.Describe(options, rewriter.Context.Tally.Adjusted, rewriter.Context.Tally.Weights).ToList();
        if (options.PerChannelWhereItPays && !options.PerChannel)
            decisions.Add($"weights per channel where it cuts rounding noise by {ChannelGranularity.MinimumGainDb:0} dB or more: {rewriter.PerChannelByValues} of {rewriter.Context.Tally.Weights} weight tensors");
        if (rewriter.KeptFloatDecision is { } kept) decisions.Add(kept);
        ModelQuantizer.VerifyIfAsked(options, model, quantized, warnings, progress);
        return new QuantizationResult
        {
            Model = quantized,
            SourceModel = source ?? model,
            Format = QuantFormat.QOperator,
            Mode = QuantMode.Dynamic,
            ActivationType = options.ActivationType,
            WeightType = options.WeightType,
            PerChannel = options.PerChannel,
            Target = rewriter.Target,
            TargetDecisions = decisions,
            QuantizedNodes = rewriter.QuantizedNodes,
            Skipped = rewriter.Skipped,
            Provenance = rewriter.Provenance,
            Warnings = warnings,
            WeightBytesBefore = model.WeightBytes,
            WeightBytesAfter = quantized.WeightBytes,
            FileSizeBefore = (source ?? model).SizeOnDisk,
        };
    }
}
