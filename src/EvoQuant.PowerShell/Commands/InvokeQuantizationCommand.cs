using System.Collections;
using System.Management.Automation;
using EvoQuant.Calibration;
using EvoQuant.Evaluation;
using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.PowerShell.Completers;
using EvoQuant.PowerShell.Infrastructure;
using EvoQuant.Quantization;
using EvoQuant.Quantization.WeightOnly;
using EvoQuant.Targets;

namespace EvoQuant.PowerShell.Commands;

/// <summary>Invoke-Quantization: writes a quantized model (static QDQ or QOperator with a calibration
/// table, dynamic without one, or weight-only 4/8-bit blocks) and returns what was quantized, what was skipped and why. The modes are
/// parameter sets, so the binder refuses parameters that do not belong to the mode.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "Quantization", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = StaticSet)]
[OutputType(typeof(QuantizationResult))]
public sealed class InvokeQuantizationCommand : EvoQuantCmdlet
{
    private const string StaticSet = "Static";
    private const string DynamicSet = "Dynamic";
    private const string AccuracyDropSet = "TargetAccuracyDrop";
    private const string MinimumSqnrSet = "MinimumSqnr";
    private const string WeightOnlySet = "WeightOnly";

    /// <summary>The float model: a model object, a path or a FileInfo; or a calibration table from
    /// Measure-Calibration, which carries its model and is then the calibration as well.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [ModelTransformation]
    [ValidateNotNull]
    public ModelReference? Model { get; set; }

    /// <summary>Activation ranges for static quantization: a table from Measure-Calibration, its saved file, or @{ tensor = @(min, max) }.</summary>
    [Parameter(ParameterSetName = StaticSet)]
    [Parameter(ParameterSetName = AccuracyDropSet)]
    [Parameter(ParameterSetName = MinimumSqnrSet)]
    public object? Calibration { get; set; }

    /// <summary>Accuracy-driven mode: keep nodes in float, worst first, until top-1 accuracy drops by at most this many points (needs -Label).</summary>
    [Parameter(Mandatory = true, ParameterSetName = AccuracyDropSet)]
    [ValidateRange(0.0, 100.0)]
    public double? TargetAccuracyDrop { get; set; }

    /// <summary>Accuracy-driven mode without labels: keep nodes in float until every output's SQNR is at least this many dB.</summary>
    [Parameter(Mandatory = true, ParameterSetName = MinimumSqnrSet)]
    [Parameter(ParameterSetName = AccuracyDropSet)]
    [ValidateRange(0.0, 200.0)]
    public double? MinimumSqnr { get; set; }

    /// <summary>Validation samples for the accuracy-driven mode (files, folders, arrays), as Measure-Calibration takes them.</summary>
    [Parameter(Mandatory = true, ParameterSetName = AccuracyDropSet)]
    [Parameter(Mandatory = true, ParameterSetName = MinimumSqnrSet)]
    public object[]? ValidationData { get; set; }

    /// <summary>Accuracy-driven: the target also needs at least this speedup over float on this CPU (the worse of
    /// batch 1 and batch 64), timed on -ValidationData once the accuracy bounds are met.</summary>
    [Parameter(ParameterSetName = AccuracyDropSet)]
    [Parameter(ParameterSetName = MinimumSqnrSet)]
    [ValidateRange(0.0, double.MaxValue)]
    public double? MinimumSpeedup { get; set; }

    /// <summary>Class labels of the validation samples: an integer array or a .npy file.</summary>
    [Parameter(Mandatory = true, ParameterSetName = AccuracyDropSet)]
    [Parameter(ParameterSetName = MinimumSqnrSet)]
    public object? Label { get; set; }

    /// <summary>Output model file, or an existing folder (the file is then named &lt;model&gt;.quant.onnx).</summary>
    [Parameter(Mandatory = true)]
    [Alias("OutFile", "OutputPath")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>QDQ pairs or integer operators; dynamic quantization always writes integer operators.</summary>
    [Parameter(ParameterSetName = StaticSet)]
    [Parameter(ParameterSetName = AccuracyDropSet)]
    [Parameter(ParameterSetName = MinimumSqnrSet)]
    public QuantFormat Format { get; set; }

    /// <summary>Weights quantized offline, activations at run time; no calibration needed.</summary>
    [Parameter(Mandatory = true, ParameterSetName = DynamicSet)]
    public SwitchParameter Dynamic { get; set; }

    /// <summary>Static modes only: dynamic quantization's activations are always uint8.</summary>
    [Parameter(ParameterSetName = StaticSet)]
    [Parameter(ParameterSetName = AccuracyDropSet)]
    [Parameter(ParameterSetName = MinimumSqnrSet)]
    [ValidateSet("QInt8", "QUInt8", "QInt16", "QUInt16", IgnoreCase = true)]
    public string? ActivationType { get; set; }

    // Weight type, per channel, reduce range, saturation guard and tensor overrides are the integer modes'
    // (weight-only has its own -Bits, -BlockSize): not in the WeightOnly set.
    [Parameter(ParameterSetName = StaticSet)]
    [Parameter(ParameterSetName = DynamicSet)]
    [Parameter(ParameterSetName = AccuracyDropSet)]
    [Parameter(ParameterSetName = MinimumSqnrSet)]
    [ValidateSet("QInt8", "QUInt8", "QInt16", "QUInt16", "QInt4", "QUInt4", IgnoreCase = true)]
    public string? WeightType { get; set; }

    [Parameter(ParameterSetName = StaticSet)]
    [Parameter(ParameterSetName = DynamicSet)]
    [Parameter(ParameterSetName = AccuracyDropSet)]
    [Parameter(ParameterSetName = MinimumSqnrSet)]
    public SwitchParameter PerChannel { get; set; }

    [Parameter(ParameterSetName = StaticSet)]
    [Parameter(ParameterSetName = DynamicSet)]
    [Parameter(ParameterSetName = AccuracyDropSet)]
    [Parameter(ParameterSetName = MinimumSqnrSet)]
    public SwitchParameter ReduceRange { get; set; }

    /// <summary>The CPU the model will run on (Host: this one). Decides every default not given here:
    /// activation type, and how 8-bit weights avoid the saturating pair sums of x86 CPUs without VNNI.</summary>
    [Parameter]
    public QuantTarget Target { get; set; }

    /// <summary>Static: fold each BatchNormalization into the Conv before it, as ONNX Runtime does to the float model.</summary>
    [Parameter(ParameterSetName = StaticSet)]
    [Parameter(ParameterSetName = AccuracyDropSet)]
    [Parameter(ParameterSetName = MinimumSqnrSet)]
    public SwitchParameter FoldBatchNormalization { get; set; }

    /// <summary>Static, -Target Host: profile the float and the quantized model node by node with ONNX Runtime on this
    /// CPU (batch 1 and 64) and keep float every node that runs slower quantized at one of them and no faster at the
    /// other. Profiles run on -CalibrationData (or -ValidationData), else on inputs made from the declared shapes.</summary>
    [Parameter(ParameterSetName = StaticSet)]
    [Parameter(ParameterSetName = AccuracyDropSet)]
    [Parameter(ParameterSetName = MinimumSqnrSet)]
    public SwitchParameter KeepSlowNodesFloat { get; set; }

    /// <summary>Overrides the target's choice of how int8 weights avoid saturation.</summary>
    [Parameter(ParameterSetName = StaticSet)]
    [Parameter(ParameterSetName = DynamicSet)]
    [Parameter(ParameterSetName = AccuracyDropSet)]
    [Parameter(ParameterSetName = MinimumSqnrSet)]
    public SaturationGuard WeightSaturation { get; set; }

    /// <summary>Static modes only: dynamic quantization computes asymmetric uint8 activations at run time.</summary>
    [Parameter(ParameterSetName = StaticSet)]
    [Parameter(ParameterSetName = AccuracyDropSet)]
    [Parameter(ParameterSetName = MinimumSqnrSet)]
    public SwitchParameter ActivationSymmetric { get; set; }

    /// <summary>Symmetric weights (the default); -WeightSymmetric:$false for asymmetric (weight-only: a zero point per block).</summary>
    [Parameter]
    public SwitchParameter WeightSymmetric { get; set; }

    /// <summary>How weight scales are found: MaxAbs (the default, as the reference tool) or Admm (alternating
    /// minimisation of the weight's squared error; never a larger error than MaxAbs).</summary>
    [Parameter]
    public WeightScaleMethod WeightScale { get; set; }

    /// <summary>Weight rounding: Nearest (the default) or Stochastic (unbiased random rounding, seeded by -Seed).</summary>
    [Parameter]
    public WeightRounding Rounding { get; set; }

    /// <summary>Seed of -Rounding Stochastic: the same seed gives the same model.</summary>
    [Parameter]
    public int Seed { get; set; }

    [Parameter]
    [ArgumentCompleter(typeof(OpTypeCompleter))]
    public string[]? OpType { get; set; }

    [Parameter]
    [ArgumentCompleter(typeof(NodeNameCompleter))]
    public string[]? IncludeNode { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(NodeNameCompleter))]
    public string[]? ExcludeNode { get; set; }

    /// <summary>@{ tensor = @{ Type = 'QInt16'; Scale = 0.01; ZeroPoint = 0; Min = -1; Max = 1 } }</summary>
    [Parameter(ParameterSetName = StaticSet)]
    [Parameter(ParameterSetName = DynamicSet)]
    [Parameter(ParameterSetName = AccuracyDropSet)]
    [Parameter(ParameterSetName = MinimumSqnrSet)]
    public Hashtable? TensorOverride { get; set; }

    /// <summary>QDQ pairs per consumer: static modes only.</summary>
    [Parameter(ParameterSetName = StaticSet)]
    [Parameter(ParameterSetName = AccuracyDropSet)]
    [Parameter(ParameterSetName = MinimumSqnrSet)]
    public SwitchParameter DedicatedQDQPair { get; set; }

    /// <summary>Weight-only: MatMul/Gemm weights and embedding tables stored in blocks of 4 or 8 bits, activations float.</summary>
    [Parameter(Mandatory = true, ParameterSetName = WeightOnlySet)]
    public SwitchParameter WeightOnly { get; set; }

    /// <summary>Weight-only: bits per weight (default 4).</summary>
    [Parameter(ParameterSetName = WeightOnlySet)]
    [ValidateSet("4", "8")]
    public int? Bits { get; set; }

    /// <summary>Weight-only: values per block along the reduction axis, each block with its own scale (default 32).</summary>
    [Parameter(ParameterSetName = WeightOnlySet)]
    [ValidateSet("16", "32", "64", "128", "256")]
    public int? BlockSize { get; set; }

    /// <summary>Weight-only: MatMulNBits (ONNX Runtime's fused kernels) or DequantizeLinear (standard opset 21); default: the target's.</summary>
    [Parameter(ParameterSetName = WeightOnlySet)]
    public WeightOnlyForm WeightOnlyForm { get; set; }

    /// <summary>Weight-only, MatMulNBits: the accuracy_level attribute (0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8).</summary>
    [Parameter(ParameterSetName = WeightOnlySet)]
    [ValidateRange(0, 4)]
    public int? AccuracyLevel { get; set; }

    /// <summary>Weight-only: how codes are chosen: RTN (round to nearest) or GPTQ (needs -CalibrationData).
    /// Default: GPTQ when -CalibrationData is given, RTN when not.</summary>
    [Parameter(ParameterSetName = WeightOnlySet)]
    [ArgumentCompleter(typeof(WeightOnlyMethodCompleter))]
    public string? WeightOnlyMethod { get; set; }

    /// <summary>Calibration samples (files, folders, arrays), as Measure-Calibration takes them; streamed, not held.
    /// Weight-only: for GPTQ. Static: the per-channel ranges of the MatMul inputs, for the outlier split (on by
    /// default) and -SmoothQuant. Dynamic: for -SmoothQuant.</summary>
    [Parameter(ParameterSetName = WeightOnlySet)]
    [Parameter(ParameterSetName = StaticSet)]
    [Parameter(ParameterSetName = DynamicSet)]
    public object[]? CalibrationData { get; set; }

    /// <summary>Static QDQ, on by default when the MatMul inputs' per-channel ranges are at hand (kept in the
    /// Measure-Calibration table, or measured on -CalibrationData): compute the few input channels of each MatMul
    /// whose measured |max| stands over 6 times the median channel's in float, the rest in 8 bits with the
    /// remaining channels' range (LLM.int8()-style). -SplitOutliers:$false quantizes them whole.</summary>
    [Parameter(ParameterSetName = StaticSet)]
    public SwitchParameter SplitOutliers { get; set; }

    /// <summary>SmoothQuant-style migration before quantizing: each MatMul input's per-channel outliers (measured on
    /// -CalibrationData) move into its weight, 1/s folded into the producer where it can be, else a Mul inserted.</summary>
    [Parameter(ParameterSetName = StaticSet)]
    [Parameter(ParameterSetName = DynamicSet)]
    public SwitchParameter SmoothQuant { get; set; }

    /// <summary>-SmoothQuant: the share of the activations' range moved into the weights, 0 to 1 (default 0.5).</summary>
    [Parameter(ParameterSetName = StaticSet)]
    [Parameter(ParameterSetName = DynamicSet)]
    [ValidateRange(0.0, 1.0)]
    public double? SmoothAlpha { get; set; }

    /// <summary>-SmoothQuant: only fold 1/s into producers' constants, never insert a Mul (smooths fewer inputs, costs no time).</summary>
    [Parameter(ParameterSetName = StaticSet)]
    [Parameter(ParameterSetName = DynamicSet)]
    public SwitchParameter SmoothFoldOnly { get; set; }

    /// <summary>Weight-only: node-name patterns whose weights keep 8 bits.</summary>
    [Parameter(ParameterSetName = WeightOnlySet)]
    [ArgumentCompleter(typeof(NodeNameCompleter))]
    public string[]? KeepEightBit { get; set; }

    /// <summary>Weight-only: the first and last quantized nodes (usually the embedding and the output projection) keep 8 bits.</summary>
    [Parameter(ParameterSetName = WeightOnlySet)]
    public SwitchParameter EightBitFirstAndLast { get; set; }

    /// <summary>Replace an existing output file (the input model is never replaced).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Whether the output keeps its tensors in a side file (&lt;Path&gt;.data): Auto, Always or Never.</summary>
    [Parameter]
    public ExternalDataChoice ExternalData { get; set; } = ExternalDataChoice.Auto;

    /// <summary>Write the output without loading and running it once in ONNX Runtime first. The check keeps a
    /// model ONNX Runtime refuses from being written; on graphs of tens of thousands of nodes ONNX Runtime's
    /// session creation alone can take minutes.</summary>
    [Parameter]
    public SwitchParameter SkipRuntimeCheck { get; set; }

    protected override void ProcessRecord()
    {
        OnnxModel model;
        try
        {
            model = Model!.Load();
        }
        catch (OnnxModelException e)
        {
            WriteError(ModelError(e));
            return;
        }
        catch (ArgumentException e)
        {
            WriteError(NewError(e, "InvalidModel", ErrorCategory.InvalidArgument, Model!.Original));
            return;
        }
        if (UnusableOutputPath(Path, folderAllowed: true) is string bad)
        {
            WriteError(NewError(new ArgumentException(bad), "InvalidOutputPath", ErrorCategory.InvalidArgument, Path, "Give the path of the .onnx file to write, or of an existing folder."));
            return;
        }
        string? output = OutputPathFor(model);
        if (output == null || !CheckOutput(model, output)) return;

        if (SmoothQuant && CalibrationData is not { Length: > 0 })
        {
            WriteError(NewError(new ArgumentException("-SmoothQuant needs -CalibrationData: samples to measure the per-channel ranges of the MatMul inputs."),
                "SmoothQuantNeedsCalibrationData", ErrorCategory.InvalidArgument, model, "Pass -CalibrationData with a few hundred representative samples (as Measure-Calibration takes them)."));
            return;
        }
        if (KeepSlowNodesFloat && MyInvocation.BoundParameters.ContainsKey(nameof(Target)) && Target != QuantTarget.Host)
        {
            WriteError(NewError(new ArgumentException($"-KeepSlowNodesFloat times the model on this machine, so it decides for -Target Host only (got {Target})."),
                "KeepSlowNodesFloatNeedsHostTarget", ErrorCategory.InvalidArgument, Target, "Drop -KeepSlowNodesFloat, or quantize on the machine the model will run on with -Target Host."));
            return;
        }
        QuantizationOptions options;
        try { options = BuildOptions(Calibration ?? Model.Table); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or PSInvalidCastException or IOException or System.Text.Json.JsonException
            or FormatException or UnauthorizedAccessException or QuantizationOptionsException)
        {
            ThrowTerminatingError(NewError(e, "InvalidArgument", ErrorCategory.InvalidArgument, Calibration ?? TensorOverride));
            return;
        }
        // Asked for explicitly, the split needs channel ranges: from the table or measured on -CalibrationData.
        if (SplitOutliers.IsPresent && CalibrationData is not { Length: > 0 } && options.OutlierSplit is { ChannelRanges.Count: 0 }
            && EvoQuant.Quantization.Smoothing.ChannelRangeMeasurement.NotNeeded(model, options, null) == null)
        {
            WriteError(NewError(new ArgumentException("-SplitOutliers needs the per-channel ranges of the MatMul inputs: the calibration table has none, and no -CalibrationData was given."),
                "SplitOutliersNeedsCalibrationData", ErrorCategory.InvalidArgument, model,
                "Measure the table with Measure-Calibration (without -NoChannelRanges), or pass -CalibrationData with a few hundred representative samples."));
            return;
        }

        string what = Describe(options);
        if (!ShouldProcess(output, $"Quantize '{model.Name}' ({what}) and write the model")) return;

        var progress = new StageProgress((stage, percent) =>
            WriteProgress(new ProgressRecord(2, "Invoke-Quantization", $"{model.Name}: {stage}") { PercentComplete = percent }));
        try
        {
            WriteVerbose($"Quantizing '{model.Name}': {what}.");
            AccuracyDrivenResult? search = AccuracyDriven ? Search(model, options) : null;
            options = WithChannelRanges(model, options, progress);
            if (SkipRuntimeCheck)
            {
                options = options with { VerifyWithRuntime = false };
                WriteVerbose("The output is not run in ONNX Runtime before it is written (-SkipRuntimeCheck).");
            }
            // The ONNX Runtime check runs on the written output before it is committed (the search's
            // models were all run already): its session does not come on top of the weights in memory.
            bool verifyWritten = search == null && options.VerifyWithRuntime;
            if (verifyWritten) options = options with { VerifyWhenSaved = true };
            // An output with external data gets its quantized weights on disk as they are made (the
            // search's models were made already): memory holds one at a time, not all of them.
            using var streamed = search == null ? StreamedOutputData.For(output, model, ExternalData) : null;
            options = options with { StreamedData = streamed };
            var result = search?.Final ?? (WeightOnlyMode ? QuantizeWeightOnly(model, options, progress)
                : ModelQuantizer.Quantize(model, options, progress, CancellationToken));
            progress.Report("Writing");
            result.Save(output, overwrite: Force, externalData: ExternalData, verifyWithRuntime: verifyWritten, progress: progress);
            Report(result);
            var emitted = PSObject.AsPSObject(result);
            if (search != null)
            {
                // The search's story travels with the result: each step, and whether the target was met.
                emitted.Properties.Add(new PSNoteProperty("AccuracySteps", search.Steps));
                emitted.Properties.Add(new PSNoteProperty("TargetMet", search.TargetMet));
                emitted.Properties.Add(new PSNoteProperty("ExcludedByAccuracySearch", search.ExcludedNodes));
                if (!search.TargetMet)
                    WriteWarning($"The target ({search.Target}) was not met after {search.Steps.Count} steps; the last step's model was written.");
            }
            WriteObject(emitted);
        }
        catch (QuantizationOptionsException e)
        {
            WriteError(NewError(e, "InvalidOptions", ErrorCategory.InvalidArgument, model, $"Change -{ParameterOf(e.Option)}: {e.Message}"));
        }
        catch (InvalidWeightException e)
        {
            WriteError(NewError(e, "InvalidWeights", ErrorCategory.InvalidData, e.TensorName ?? (object)model,
                "The model's weights hold NaN, infinity or values too large to quantize: re-export the model from a healthy checkpoint, or keep the node in float with -ExcludeNode."));
        }
        catch (QuantizationException e)
        {
            WriteError(NewError(e, "QuantizationFailed", ErrorCategory.InvalidOperation, e.NodeName ?? (object)model,
                "Exclude the node named in the message with -ExcludeNode, and report the model so we can fix it."));
        }
        catch (OnnxModelException e)
        {
            WriteError(ModelError(e, output));
        }
        catch (EvoQuant.IO.OutputNotWritableException e)
        {
            WriteError(OutputError(e));
        }
        catch (Exception e) when ((WeightOnlyMode || CalibrationData is { Length: > 0 }) && e is SampleMismatchException or EvoQuant.Data.SampleFormatException or ModelRunException or InvalidOperationException)
        {
            WriteError(NewError(e, "InvalidCalibrationData", ErrorCategory.InvalidData, CalibrationData ?? (object)model,
                "Check -CalibrationData: samples must match the model's input names, element types and shapes (see Get-OnnxGraph ... | ForEach-Object Inputs)."));
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException && !AccuracyDriven)
        {
            // Without validation data an argument error comes from the model itself (a bias that does not
            // fit its weight, ...): it must not be reported as a validation-data problem.
            WriteError(NewError(e, "QuantizationFailed", ErrorCategory.InvalidData, model,
                "The model has a tensor the quantizer cannot use (see the message): keep its node in float with -ExcludeNode, or fix the model."));
        }
        catch (Exception e) when (e is ArgumentException or SampleMismatchException or EvoQuant.Data.SampleFormatException)
        {
            WriteError(NewError(e, "InvalidValidationData", ErrorCategory.InvalidArgument, ValidationData ?? Label, "Check -ValidationData and -Label: one label per validation sample."));
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
        finally
        {
            WriteProgress(new ProgressRecord(2, "Invoke-Quantization", "Done") { RecordType = ProgressRecordType.Completed });
        }
    }

    private bool AccuracyDriven => ParameterSetName is AccuracyDropSet or MinimumSqnrSet;

    private bool WeightOnlyMode => ParameterSetName == WeightOnlySet;

    // Core names weight-only options by their property path; the user knows them as this cmdlet's parameters.
    private static string ParameterOf(string option) => option switch
    {
        "WeightOnly.Method" => nameof(WeightOnlyMethod),
        "WeightOnly.Form" => nameof(WeightOnlyForm),
        "WeightOnly.EightBitNodes" => nameof(KeepEightBit),
        "WeightOnly.Scale" => nameof(WeightScale),
        _ when option.StartsWith("WeightOnly.", StringComparison.Ordinal) => option["WeightOnly.".Length..],
        _ => option,
    };

    // Sample items as Measure-Calibration takes them, paths resolved against the current location.
    private List<object> SampleItems(object[] values) =>
        values.Select(v => PipelineValues.ToSampleItem(v) is string p ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(p) : PipelineValues.ToSampleItem(v)!).ToList();

    // The MatMul inputs' per-channel ranges streamed once from -CalibrationData through the float model, for the
    // outlier split (static) and -SmoothQuant; the options as they were without -CalibrationData.
    private QuantizationOptions WithChannelRanges(OnnxModel model, QuantizationOptions options, StageProgress progress)
    {
        if (CalibrationData is not { Length: > 0 } || WeightOnlyMode) return options;
        var smoothing = SmoothQuant ? new EvoQuant.Quantization.Smoothing.SmoothingOptions { Alpha = SmoothAlpha ?? 0.5, InsertMul = !SmoothFoldOnly } : null;
        if (EvoQuant.Quantization.Smoothing.ChannelRangeMeasurement.NotNeeded(model, options, smoothing) is string why)
        {
            if (options.OutlierSplit != null) WriteVerbose($"No per-channel ranges measured: {why} (-SplitOutliers).");
            return options;
        }
        progress.Report("Measuring per-channel activation ranges of the MatMul inputs");
        return EvoQuant.Quantization.Smoothing.ChannelRangeMeasurement.Apply(model, options, smoothing, SampleItems(CalibrationData), null, CancellationToken);
    }

    private QuantizationResult QuantizeWeightOnly(OnnxModel model, QuantizationOptions options, StageProgress progress)
    {
        var items = CalibrationData is { Length: > 0 } ? SampleItems(CalibrationData) : null;
        var prepared = WeightOnlyCalibration.Prepare(model, options, items, null, progress, CancellationToken);
        foreach (var note in prepared.Notes) WriteWarning(note);
        if (prepared.Samples > 0)
            WriteVerbose($"Input statistics of {prepared.Options.WeightOnly.InputStatistics!.Count} tensors from {prepared.Samples} calibration samples"
                + (prepared.PaddingMaskInput == null ? "." : $"; {prepared.PaddedPositions} padded positions ({prepared.PaddingMaskInput} = 0) left out."));
        return ModelQuantizer.Quantize(model, prepared.Options, progress, CancellationToken);
    }

    private AccuracyDrivenResult Search(OnnxModel model, QuantizationOptions options)
    {
        long[]? labels = Label == null ? null : LabelArgument.Read(Label, p => SessionState.Path.GetUnresolvedProviderPathFromPSPath(p));
        var target = new AccuracyTarget { MaxAccuracyDrop = TargetAccuracyDrop, MinSqnrDb = MinimumSqnr, MinSpeedup = MinimumSpeedup };
        var items = SampleItems(ValidationData!);
        var steps = new SynchronousProgress<AccuracyDrivenStep>(step =>
        {
            string accuracy = step.AccuracyDrop is double d ? $"accuracy drop {d:N2} points, " : "";
            WriteVerbose($"Step {step.Step}: {accuracy}output SQNR {step.Sqnr:N1} dB{(step.AddedNodes.Length > 0 ? ", kept in float: " + string.Join(", ", step.AddedNodes) : "")}{(step.Speedup is double v ? $", speedup {v:N2}x" : "")}{(step.TargetMet ? " (target met)" : "")}.");
            WriteProgress(new ProgressRecord(2, "Invoke-Quantization", $"Accuracy search step {step.Step}: {step.ExcludedNodes.Length} node(s) in float"));
        });
        return AccuracyDrivenQuantizer.Run(model, options, items, labels, target, null, steps, CancellationToken);
    }

    private QuantizationOptions BuildOptions(object? calibration)
    {
        // The target's defaults first; every parameter given on the command line then wins.
        var bound = MyInvocation.BoundParameters;
        if (WeightOnlyMode) return WeightOnlyOptions();
        if (!SmoothQuant && (bound.ContainsKey(nameof(SmoothAlpha)) || SmoothFoldOnly || (Dynamic && CalibrationData is { Length: > 0 })))
            throw new ArgumentException("-SmoothAlpha and -SmoothFoldOnly apply only with -SmoothQuant, and -CalibrationData to dynamic quantization only with -SmoothQuant.");
        var profile = TargetProfile.Resolve(bound.ContainsKey(nameof(Target)) ? Target : new QuantizationOptions().Target);
        var options = Dynamic ? profile.DynamicDefaults() : profile.StaticDefaults();
        if (bound.ContainsKey(nameof(Format))) options = options with { Format = Format };
        IReadOnlyDictionary<string, float> weightScaleFactors = new Dictionary<string, float>();
        IReadOnlyDictionary<string, EvoQuant.Quantization.Smoothing.ChannelRange> channelRanges = new Dictionary<string, EvoQuant.Quantization.Smoothing.ChannelRange>();
        if (!Dynamic)
        {
            // A piped table carries its ranges (and EQ's weight-scale factors); otherwise static quantization needs -Calibration.
            if (calibration == null)
                throw new ArgumentException("Static quantization needs activation ranges: pass -Calibration (from Measure-Calibration), or use -Dynamic.");
            var (ranges, factors, channels) = QuantizationArguments.Calibration(calibration, p => SessionState.Path.GetUnresolvedProviderPathFromPSPath(p));
            options = options with { ActivationRanges = ranges };
            weightScaleFactors = factors;
            channelRanges = channels;
        }
        return (options with
        {
            ActivationType = ActivationType != null ? QuantizationArguments.ParseType(ActivationType) : options.ActivationType,
            WeightType = WeightType != null ? QuantizationArguments.ParseType(WeightType) : options.WeightType,
            PerChannel = PerChannel,
            // -PerChannel given (on or off) decides alone; otherwise the target's per-weight choice stands.
            PerChannelWhereItPays = !bound.ContainsKey(nameof(PerChannel)) && options.PerChannelWhereItPays,
            ReduceRange = ReduceRange,
            ActivationSymmetric = ActivationSymmetric,
            WeightSymmetric = bound.ContainsKey(nameof(WeightSymmetric)) ? WeightSymmetric.IsPresent : options.WeightSymmetric,
            WeightSaturation = bound.ContainsKey(nameof(WeightSaturation)) ? WeightSaturation : options.WeightSaturation,
            FoldBatchNormalization = bound.ContainsKey(nameof(FoldBatchNormalization)) ? FoldBatchNormalization.IsPresent : options.FoldBatchNormalization,
            OutlierSplit = bound.ContainsKey(nameof(SplitOutliers)) && !SplitOutliers.IsPresent ? null : options.OutlierSplit,
            OpTypes = OpType ?? Array.Empty<string>(),
            IncludeNodes = IncludeNode ?? Array.Empty<string>(),
            ExcludeNodes = ExcludeNode ?? Array.Empty<string>(),
            TensorOverrides = QuantizationArguments.Overrides(TensorOverride),
            DedicatedQdqPair = DedicatedQDQPair,
            WeightNumerics = new WeightNumerics(WeightScale, Rounding, Seed),
            KeepSlowNodesFloat = KeepSlowNodesFloat,
            SpeedAware = KeepSlowNodesFloat && (CalibrationData ?? ValidationData) is { Length: > 0 } samples
                ? options.SpeedAware with { Samples = SampleItems(samples) } : options.SpeedAware,
        }).WithWeightScaleFactors(weightScaleFactors) // a -TensorOverride of a weight wins over its searched factor
            .WithChannelRanges(channelRanges); // -CalibrationData, when given, measures them afresh
    }

    private QuantizationOptions WeightOnlyOptions()
    {
        var bound = MyInvocation.BoundParameters;
        var defaults = QuantizationOptions.ForWeightOnly();
        var w = defaults.WeightOnly;
        return defaults with
        {
            Target = bound.ContainsKey(nameof(Target)) ? Target : defaults.Target,
            OpTypes = OpType ?? Array.Empty<string>(),
            IncludeNodes = IncludeNode ?? Array.Empty<string>(),
            ExcludeNodes = ExcludeNode ?? Array.Empty<string>(),
            WeightOnly = w with
            {
                Bits = Bits ?? w.Bits,
                BlockSize = BlockSize ?? w.BlockSize,
                Symmetric = bound.ContainsKey(nameof(WeightSymmetric)) ? WeightSymmetric.IsPresent : w.Symmetric,
                Form = bound.ContainsKey(nameof(WeightOnlyForm)) ? WeightOnlyForm : w.Form,
                AccuracyLevel = AccuracyLevel ?? w.AccuracyLevel,
                Method = WeightOnlyMethods.Choose(WeightOnlyMethod, CalibrationData is { Length: > 0 }),
                EightBitNodes = KeepEightBit ?? Array.Empty<string>(),
                EightBitFirstAndLast = EightBitFirstAndLast,
                Scale = WeightScale,
            },
        };
    }

    private string? OutputPathFor(OnnxModel model)
    {
        string full = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
        if (System.IO.Path.EndsInDirectorySeparator(Path) && !System.IO.Path.EndsInDirectorySeparator(full)) full += System.IO.Path.DirectorySeparatorChar;
        try { return QuantizationResultFile.OutputPathFor(full, model); }
        catch (DirectoryNotFoundException e)
        {
            WriteError(NewError(e, "OutputFolderNotFound", ErrorCategory.ObjectNotFound, Path, "Create the folder first, or give the path of the .onnx file to write."));
            return null;
        }
    }

    // Refuse before any work: the input is never overwritten, an existing output only with -Force.
    private bool CheckOutput(OnnxModel model, string output)
    {
        var comparison = OperatingSystem.IsLinux() ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;
        if (model.Path != null && string.Equals(System.IO.Path.GetFullPath(model.Path), output, comparison))
        {
            WriteError(NewError(new IOException($"Refusing to overwrite the input model '{output}'."), "OutputIsInput", ErrorCategory.InvalidArgument, output,
                "Choose a -Path other than the input model."));
            return false;
        }
        if (File.Exists(output) && !Force)
        {
            WriteError(NewError(new IOException($"'{output}' already exists."), "OutputExists", ErrorCategory.ResourceExists, output,
                "Use -Force to replace it, or choose another -Path."));
            return false;
        }
        return true;
    }

    private static string Describe(QuantizationOptions o) => o.Mode == QuantMode.WeightOnly
        ? $"weight-only {o.WeightOnly.Bits}-bit blocks of {o.WeightOnly.BlockSize}, {(o.WeightOnly.Symmetric ? "symmetric" : "asymmetric")}, {o.WeightOnly.Method.Name}, {WeightOnlyDefaults.FormOf(o)}"
        : $"{(o.Mode == QuantMode.Dynamic ? "dynamic" : "static " + o.Format)}, activations {o.ActivationType}, weights {o.WeightType}{(o.PerChannel ? " per channel" : " per tensor")}{(o.KeepSlowNodesFloat ? ", nodes slower quantized on this CPU kept float" : "")}";

    private void Report(QuantizationResult r)
    {
        foreach (var d in r.TargetDecisions) WriteVerbose($"Target: {d}.");
        foreach (var (op, n) in r.QuantizedByOpType) WriteVerbose($"Quantized {n} {op} node(s).");
        foreach (var line in SkippedSummary.Lines(r.Skipped)) WriteVerbose($"Kept in float: {line}");
        foreach (var w in r.Warnings) WriteWarning(w);
        WriteVerbose($"Wrote '{r.Path}': {r.FileSizeBefore:N0} -> {r.FileSizeAfter:N0} bytes ({r.SizeRatio:N2}x smaller); weights {r.WeightRatio:N2}x smaller.");
    }
}
