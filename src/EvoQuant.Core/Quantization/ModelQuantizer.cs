using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization;

/// <summary>The entry point: validate, plan, rewrite, verify. Never mutates the model it is given.</summary>
public static class ModelQuantizer
{
    public static QuantizationResult Quantize(OnnxModel model, QuantizationOptions options, IProgress<string>? progress = null, CancellationToken ct = default) =>
        Quantize(model, options, OpQuantizerRegistry.Default, progress, ct);

    public static QuantizationResult Quantize(OnnxModel model, QuantizationOptions options, OpQuantizerRegistry registry, IProgress<string>? progress = null, CancellationToken ct = default) =>
        options?.KeepSlowNodesFloat == true
            ? Evaluation.SpeedAwareQuantizer.Quantize(model, options, registry, progress, ct) // profiles, then calls back with the decisions
            : OutputRecorder.Record(model, QuantizeUnrecorded(model, options!, registry, progress, ct));

    private static QuantizationResult QuantizeUnrecorded(OnnxModel model, QuantizationOptions options, OpQuantizerRegistry registry, IProgress<string>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        QuantizationOptionsValidator.Validate(options, model, registry);
        // The split and smoothing rewrite the float model in memory: the result's source (its file, its size, the
        // path the output must not replace) stays the user's model.
        var source = model;
        string? splitDecision = null;
        if (options.OutlierSplit is { } outlierSplit && options.Mode == QuantMode.Static && options.Format == QuantFormat.QDQ)
        {
            // QDQ only: there the other readers of a split input read it unquantized (QdqRewriter, QuantizedReaders).
            // The float model with its outlier channels computed apart: an identity in float.
            var split = Smoothing.OutlierChannelSplit.Split(model, outlierSplit, registry);
            bool firstSplit = FeedForwardProjections.FirstOfStack(model.Graph) is { } first && split.Channels.ContainsKey(first.Input[0]);
            model = split.Model;
            var ranges = new Dictionary<string, ActivationRange>(options.ActivationRanges, StringComparer.Ordinal);
            foreach (var (t, r) in split.Ranges) ranges[t] = r;
            // The first down projection was kept float for its input's outliers: split, it is quantized like the others.
            options = options with
            {
                OutlierSplit = null, ActivationRanges = ranges, FloatOutputs = split.FloatOutputs, QuantizedReaders = split.QuantizedReaders,
                KeepFirstDownProjectionFloat = options.KeepFirstDownProjectionFloat && !firstSplit,
            };
            splitDecision = split.Decision;
        }
        if (options.Smoothing is { } smoothing && options.Mode != QuantMode.WeightOnly)
        {
            // The float model with its activation outliers moved into the weights: an identity in float.
            var smoothed = Smoothing.ActivationSmoothing.Smooth(model, smoothing, registry);
            model = smoothed.Model;
            options = options with { Smoothing = null, ActivationRanges = smoothed.Rescale(options.ActivationRanges) };
        }
        if (options.Mode == QuantMode.Dynamic) return Dynamic.DynamicQuantizer.Quantize(model, options, registry, progress, ct, source);
        if (options.Mode == QuantMode.WeightOnly) return WeightOnly.WeightOnlyQuantizer.Quantize(model, options, registry, progress, ct);

        WeightReadProgress.Stage(progress, "Planning");
        // The float model as ONNX Runtime runs it: BatchNormalization folded into its Conv.
        var (prepared, folds) = options.FoldBatchNormalization ? BatchNormFolding.FoldPairs(model, options.ActivationRanges.ContainsKey) : (model, Array.Empty<BatchNormFolding.FoldedPair>());
        int foldedNorms = folds.Count;
        // A Conv that absorbed its BatchNormalization writes the normalization's output in the prepared model.
        if (options.KeepFloat.Count > 0 && folds.Count > 0)
        {
            var keepFloat = new Dictionary<string, string>(options.KeepFloat, StringComparer.Ordinal);
            foreach (var f in folds)
                if (options.KeepFloat.TryGetValue(f.ConvOutput, out var why)) keepFloat[f.NormOutput] = why;
            options = options with { KeepFloat = keepFloat };
        }
        // Planning and rewriting read the weights: the bytes read so far are the percentage.
        var context = new QuantizationContext(WeightReadProgress.Observe(prepared, progress, "Quantizing weights"), options);
        var (plan, skipped) = QuantizationPlanner.Build(context, registry, ct);
        var parameters = ActivationParamsResolver.Resolve(context, plan);
        if (progress is not IProgress<QuantizationProgress>) progress?.Report($"Rewriting {plan.QuantizedNodes.Count} nodes");
        var warnings = new List<string>();
        Rewrite.GraphRewrite rewriter;
        ModelProto proto;
        var leftFloat = new HashSet<Onnx.Proto.NodeProto>(ReferenceEqualityComparer.Instance);
        if (options.Format == QuantFormat.QOperator)
        {
            var q = new QOperator.QOperatorRewriter(context, plan, parameters, warnings);
            rewriter = q;
            RecordFolds(q, folds);
            proto = q.Rewrite(ct);
            leftFloat = q.LeftFloat;
        }
        else
        {
            var q = new Qdq.QdqRewriter(context, plan, parameters, warnings);
            rewriter = q;
            RecordFolds(q, folds);
            proto = q.Rewrite(ct);
        }
        var quantized = model.With(proto, options.StreamedData);

        VerifyIfAsked(options, model, quantized, warnings, progress);

        return new QuantizationResult
        {
            Model = quantized,
            SourceModel = source,
            Format = options.Format,
            Mode = options.Mode,
            ActivationType = options.ActivationType,
            WeightType = options.WeightType,
            PerChannel = options.PerChannel,
            Target = context.Target,
            TargetDecisions = context.Target.Describe(options, context.Tally.Adjusted, context.Tally.Weights)
                .Concat(foldedNorms > 0 ? new[] { $"{foldedNorms} BatchNormalization folded into their Conv, as ONNX Runtime runs the float model" } : Array.Empty<string>())
                .Concat(plan.KeptFloatDecision is { } kept ? new[] { kept } : Array.Empty<string>())
                .Concat(MeasuredKeptFloat(prepared, options))
                .Concat(splitDecision is { } sd ? new[] { sd } : Array.Empty<string>()).ToList(),
            // Only nodes that really run quantized: a QOperator emitter may have left one float.
            QuantizedNodes = plan.QuantizedNodes.Where(n => !leftFloat.Contains(n)).Select(n => new QuantizedNode(QuantizationPlanner.DisplayName(n), n.OpType)).ToList(),
            Skipped = skipped,
            Provenance = rewriter.Provenance,
            Warnings = warnings,
            WeightBytesBefore = model.WeightBytes,
            WeightBytesAfter = quantized.WeightBytes,
            FileSizeBefore = source.SizeOnDisk,
        };
    }

    /// <summary>The TargetDecisions lines of the nodes <see cref="QuantizationOptions.KeepFloat"/> keeps float.</summary>
    private static IEnumerable<string> MeasuredKeptFloat(OnnxModel model, QuantizationOptions options)
    {
        if (options.KeepFloat.Count == 0) yield break;
        foreach (var n in model.Graph.Nodes)
            if (n.Output.Count > 0 && options.KeepFloat.TryGetValue(n.Output[0], out var why))
                yield return $"kept float: {QuantizationPlanner.DisplayName(n)}, {why}";
    }

    /// <summary>A Conv that absorbed its BatchNormalization is known by its own first output in the user's model;
    /// the normalization is recorded as folded into it.</summary>
    private static void RecordFolds(Rewrite.GraphRewrite rewriter, IReadOnlyList<BatchNormFolding.FoldedPair> folds)
    {
        foreach (var f in folds)
        {
            rewriter.PreparedKeys[f.NormOutput] = f.ConvOutput;
            rewriter.Provenance.AddNode(new Provenance.NodeProvenance(f.NormOutput, "BatchNormalization", Provenance.NodeOutcome.Folded, Array.Empty<string>(),
                "folded into its Conv, as ONNX Runtime runs the float model.", f.ConvOutput));
        }
    }

    /// <summary>With <see cref="QuantizationOptions.VerifyWithRuntime"/>: the progress stage and <see cref="Verify"/>, in every mode.</summary>
    internal static void VerifyIfAsked(QuantizationOptions options, OnnxModel original, OnnxModel quantized, List<string> warnings, IProgress<string>? progress)
    {
        if (!options.VerifyWithRuntime || options.VerifyWhenSaved) return;
        WeightReadProgress.Stage(progress, "Verifying with ONNX Runtime");
        Verify(original, quantized, warnings, prepackWeights: options.Mode == QuantMode.WeightOnly);
    }

    /// <param name="prepackWeights">For weight-only outputs: see <see cref="RuntimeVerifier.TryRunFile"/>.</param>
    internal static void Verify(OnnxModel original, OnnxModel quantized, List<string> warnings, bool prepackWeights = false)
    {
        string? error;
        using (var file = RuntimeModelFile.For(quantized.ForRuntime())) error = RuntimeVerifier.TryRun(file, prepackWeights);
        Judge(original, error, warnings);
    }

    /// <summary>The check of a quantized model already written to <paramref name="quantizedFile"/> (see
    /// <see cref="QuantizationOptions.VerifyWhenSaved"/>): the session maps its external data.</summary>
    /// <param name="prepackWeights">For weight-only outputs: see <see cref="RuntimeVerifier.TryRunFile"/>.</param>
    internal static void VerifyFile(OnnxModel original, string quantizedFile, List<string> warnings, bool prepackWeights = false) =>
        Judge(original, RuntimeVerifier.TryRunFile(quantizedFile, prepackWeights), warnings);

    /// <summary>ONNX Runtime's verdict on the quantized model: nothing, a warning, or the exception to throw.</summary>
    private static void Judge(OnnxModel original, string? error, List<string> warnings)
    {
        if (error == null) return;
        // Inputs of the declared shapes with symbolic dims set to 1 may not suit the model itself:
        // when the float model fails the same way, that is not a quantization bug.
        using var originalFile = RuntimeModelFile.For(original.ForRuntime());
        if (RuntimeVerifier.TryRun(originalFile) != null)
        {
            // A model ONNX Runtime cannot even load (an unknown operator or element type) gives an output
            // nobody can check or run: refused, rather than "succeeding" with a warning.
            if (RuntimeVerifier.TryLoad(originalFile) is string load)
                throw new OnnxModelException(ModelErrorKind.NotRunnable,
                    $"ONNX Runtime cannot load {(original.Path != null ? $"'{original.Path}'" : "the model")}, so its quantized form cannot be checked: {load}", original.Path);
            warnings.Add($"The quantized model was not run: the float model does not run on generated inputs either ({error}).");
            return;
        }
        string? node = System.Text.RegularExpressions.Regex.Match(error, @"[Nn]ode(?: name)?[:\s]*'?([^'\s,]+)'?").Groups[1].Value;
        throw new QuantizationException($"ONNX Runtime rejects the quantized model: {error}", string.IsNullOrEmpty(node) ? null : node);
    }
}
