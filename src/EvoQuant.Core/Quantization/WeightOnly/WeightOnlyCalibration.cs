using EvoQuant.Calibration;
using EvoQuant.Onnx;

namespace EvoQuant.Quantization.WeightOnly;

/// <summary>Options ready for <see cref="ModelQuantizer.Quantize(OnnxModel, QuantizationOptions, IProgress{string}?, CancellationToken)"/>,
/// what calibration gave them, and what the user should know about it.</summary>
/// <param name="Options">The options, with <see cref="WeightOnlyOptions.InputStatistics"/> when the method needs them.</param>
/// <param name="Samples">Calibration samples streamed through the model, counted in rows of the batch axis as calibration counts them (0 when the method needs none).</param>
/// <param name="Notes">Things worth a warning: samples given to a method that ignores them, inputs without statistics.</param>
/// <param name="PaddingMaskInput">The input whose zeros marked padded positions (attention_mask); null: none.</param>
/// <param name="PaddedPositions">Positions left out of the statistics as padding.</param>
public sealed record WeightOnlyCalibrationResult(QuantizationOptions Options, long Samples, IReadOnlyList<string> Notes,
    string? PaddingMaskInput = null, long PaddedPositions = 0);

/// <summary>Prepares weight-only quantization from calibration samples (what Invoke-Quantization -WeightOnly
/// -CalibrationData does before quantizing): a method that needs input statistics (GPTQ) gets them streamed
/// from the samples through the float model in bounded memory (<see cref="InputStatisticsCollector"/>);
/// a method that needs none leaves the samples unread.</summary>
public static class WeightOnlyCalibration
{
    /// <param name="model">The float model.</param>
    /// <param name="options">Weight-only options; their method decides whether samples are read.</param>
    /// <param name="items">Samples as Measure-Calibration takes them (files, folders, arrays, dictionaries, Samples); null: none.</param>
    /// <param name="calibration">Batching, threads, output budget and sample errors for the collection.</param>
    /// <exception cref="QuantizationOptionsException">The options are invalid, or the method needs statistics and no samples were given.</exception>
    public static WeightOnlyCalibrationResult Prepare(OnnxModel model, QuantizationOptions options, IEnumerable<object>? items,
        CalibrationOptions? calibration = null, IProgress<string>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Mode != QuantMode.WeightOnly)
            throw new QuantizationOptionsException(nameof(options.Mode), $"Calibration for weight-only methods needs weight-only options (mode {options.Mode}).");
        // Refuse bad options before streaming samples, which may take long.
        QuantizationOptionsValidator.Validate(options, model);
        var method = options.WeightOnly.Method;
        if (!method.NeedsInputStatistics || options.WeightOnly.InputStatistics != null)
        {
            var notes = items != null && items.Any()
                ? new[] { $"The calibration samples were not read: the weight-only method {method.Name} does not use them." }
                : Array.Empty<string>();
            return new WeightOnlyCalibrationResult(options, 0, notes);
        }
        if (items == null)
            throw new QuantizationOptionsException("CalibrationData", $"The weight-only method {method.Name} needs calibration samples to measure the inputs of the layers it quantizes; give them, or use round-to-nearest (RTN).");

        var inputs = WeightOnlyPlanner.InputsNeedingStatistics(model, options);
        if (inputs.Count == 0)
            return new WeightOnlyCalibrationResult(options with { WeightOnly = options.WeightOnly with { InputStatistics = new Dictionary<string, InputStatistics>() } }, 0,
                new[] { $"No MatMul or Gemm is quantized, so {method.Name} had no input to measure: the calibration samples were not read." });
        using var collector = new InputStatisticsCollector(model, inputs, calibration, ct);
        progress?.Report($"Collecting the input statistics of {collector.Inputs.Count} tensors ({method.Name})");
        foreach (var item in items)
        {
            if (!collector.Add(item)) break;
            progress?.Report($"Collecting input statistics: {collector.SamplesDone} samples");
        }
        var statistics = collector.Complete().ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

        // An input ONNX Runtime could not expose, or that no sample reached, gets empty statistics: its
        // weights are then rounded to nearest (what GPTQ does with H = I) instead of failing the whole model.
        var missing = collector.Inputs.Where(i => !statistics.ContainsKey(i.Activation)).ToList();
        foreach (var input in missing) statistics[input.Activation] = new InputStatistics(input.Channels);
        var list = new List<string>();
        if (missing.Count > 0)
            list.Add($"{missing.Count} weight input(s) got no calibration rows (e.g. '{missing[0].Activation}' of node '{missing[0].Node}'): their weights are rounded to nearest.");
        if (collector.Errors > 0)
            list.Add($"{collector.Errors} calibration sample(s) could not be used.");
        return new WeightOnlyCalibrationResult(options with { WeightOnly = options.WeightOnly with { InputStatistics = statistics } }, collector.SamplesDone, list,
            collector.PaddingMaskInput, collector.PaddedPositions);
    }
}
