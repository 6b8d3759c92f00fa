using System.Management.Automation;
using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Onnx;
using EvoQuant.PowerShell.Completers;
using EvoQuant.PowerShell.Infrastructure;

namespace EvoQuant.PowerShell.Commands;

/// <summary>Measure-Calibration: streams calibration samples through a model with ONNX Runtime and
/// returns a calibration table. Samples are run and dropped batch by batch, so memory does not grow
/// with their number.</summary>
[Cmdlet(VerbsDiagnostic.Measure, "Calibration", SupportsShouldProcess = true)]
[OutputType(typeof(CalibrationTable))]
public sealed class MeasureCalibrationCommand : EvoQuantCmdlet
{
    /// <summary>The float model: a model object, a path or a FileInfo. May also arrive first on the pipeline.</summary>
    [Parameter(Position = 0)]
    [ModelTransformation]
    public ModelReference? Model { get; set; }

    /// <summary>Samples: .npy/.npz/.pb files, test_data_set_N folders, folders of them, hashtables name -> array, arrays.</summary>
    [Parameter(ValueFromPipeline = true)]
    [AllowNull]
    public object? InputObject { get; set; }

    /// <summary>Sample files or folders (wildcards), read after the pipeline input.</summary>
    [Parameter]
    public string[]? InputPath { get; set; }

    // Parameters not given stay null: Core's CalibrationOptions holds every default.

    [Parameter]
    public CalibrationMethod Method { get; set; }

    /// <summary>Histogram bins (Entropy default 128, Percentile default 2048).</summary>
    [Parameter]
    [ValidateRange(16, 1 << 20)]
    public int? Bins { get; set; }

    [Parameter]
    [ValidateRange(2, 1 << 16)]
    public int? QuantizedBins { get; set; }

    [Parameter]
    [ValidateRange(50.0, 100.0)]
    public double? Percentile { get; set; }

    /// <summary>Symmetric ranges; not given: the method's default (Percentile symmetric, see CalibrationOptions.Symmetric).</summary>
    [Parameter]
    public SwitchParameter Symmetric { get; set; }

    [Parameter]
    public SwitchParameter MovingAverage { get; set; }

    [Parameter]
    [ValidateRange(1, 65536)]
    public int? BatchSize { get; set; }

    /// <summary>EQ and Auto: sample rows kept for EQ's scale search or Auto's output check (the first ones; default 64).</summary>
    [Parameter]
    [ValidateRange(1, 65536)]
    public int? SearchRows { get; set; }

    /// <summary>EQ: the method whose ranges the search starts from (MinMax by default; Entropy, Percentile or Auto).</summary>
    [Parameter]
    [ValidateSet(nameof(CalibrationMethod.MinMax), nameof(CalibrationMethod.Entropy), nameof(CalibrationMethod.Percentile), nameof(CalibrationMethod.Auto))]
    public CalibrationMethod? SearchBase { get; set; }

    /// <summary>EQ and Auto: search the scales of (EQ), or check the outputs of (Auto), the model Invoke-Quantization -PerChannel
    /// makes (per-tensor weights otherwise).</summary>
    [Parameter]
    public SwitchParameter PerChannel { get; set; }

    /// <summary>Skips the per-channel extremes of the MatMul inputs (a second float pass over the samples, only in
    /// models with MatMuls that have a constant weight): Invoke-Quantization's static outlier split then needs
    /// -CalibrationData to measure them itself.</summary>
    [Parameter]
    public SwitchParameter NoChannelRanges { get; set; }

    [Parameter]
    [ArgumentCompleter(typeof(OpTypeCompleter))]
    public string[]? OpType { get; set; }

    [Parameter]
    [ArgumentCompleter(typeof(NodeNameCompleter))]
    public string[]? IncludeNode { get; set; }

    [Parameter]
    [ArgumentCompleter(typeof(NodeNameCompleter))]
    public string[]? ExcludeNode { get; set; }

    [Parameter]
    [ValidateRange(0, 1024)]
    public int IntraOpThreads { get; set; }

    /// <summary>Most bytes of activations one run may hold for histogram methods (e.g. 512MB); larger
    /// batches run as sub-batches of rows that fit (or, when one row does not, once per group of tensors).</summary>
    [Parameter]
    [ValidateRange(1L << 20, long.MaxValue)]
    public long? MaxOutputMemory { get; set; }

    /// <summary>Tables measured on earlier shards of the data: this run's samples continue them, and the
    /// result is the table of all their samples.</summary>
    [Parameter]
    public CalibrationTable[]? Merge { get; set; }

    /// <summary>Also save the table: JSON, or calibration.cache text ("name max_abs" lines) when the name ends in .cache.</summary>
    [Parameter]
    public string? OutFile { get; set; }

    /// <summary>Let -OutFile replace an existing file (never the model or a calibration data file).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    private CalibrationRun? _run;

    // The model, once loaded (from -Model in BeginProcessing, or the first pipeline object).
    private OnnxModel? _model;

    // Paths the samples came from: -OutFile must not replace any of them.
    private readonly List<string> _inputs = new();

    protected override void BeginProcessing()
    {
        if (Model != null)
        {
            // Loaded here, not while binding, so that a bad model gets its own ErrorId.
            try { _model = Model.Load(); }
            catch (OnnxModelException e) { ThrowTerminatingError(ModelError(e)); }
            catch (ArgumentException e) { ThrowTerminatingError(NewError(e, "InvalidModel", ErrorCategory.InvalidArgument, Model.Original)); }
        }
        // Refuse a bad -OutFile before the (long) measurement, not after it.
        if (OutFile == null) return;
        try { CalibrationTableFile.Check(this, OutFile, Force, Inputs().Concat(QuietlyResolved(InputPath))); }
        catch (OutputRefusedException e) { ThrowTerminatingError(RefusedError(e)); }
    }

    // -InputPath as files, without the errors EndProcessing reports for paths that match nothing.
    private List<string> QuietlyResolved(string[]? paths)
    {
        var result = new List<string>();
        foreach (string p in paths ?? Array.Empty<string>())
        {
            try { result.AddRange(SessionState.Path.GetResolvedProviderPathFromPSPath(p, out _)); }
            catch (Exception e) when (e is ItemNotFoundException or ProviderNotFoundException or System.Management.Automation.DriveNotFoundException or NotSupportedException or ArgumentException) { }
        }
        return result;
    }

    private IEnumerable<string> Inputs() => _model?.Path is string p ? _inputs.Append(p) : _inputs;

    protected override void ProcessRecord()
    {
        object? item = PipelineValues.Unwrap(InputObject);
        if (item is OnnxModel piped && _run == null && _model == null)
        {
            _model = piped; // `Get-OnnxGraph m.onnx | Measure-Calibration -InputPath ...`
            return;
        }
        if (item == null) return;
        if (item is FileSystemInfo fsi) item = fsi.FullName;
        Feed(PipelineValues.ToSampleItem(item)!);
    }

    protected override void EndProcessing()
    {
        if (InputPath != null)
            foreach (string path in ResolvePaths(InputPath, literal: false, models: false)) Feed(path);
        if (_run == null && _model == null)
            ThrowTerminatingError(NewError(new ArgumentException("No model: give -Model, or pipe a model from Get-OnnxGraph."), "NoModel",
                ErrorCategory.InvalidArgument, null, "Measure-Calibration -Model ./model.onnx -InputPath ./calib/*.npy"));
        if (_run == null)
            ThrowTerminatingError(NewError(new ArgumentException("No calibration samples were given."), "NoSamples", ErrorCategory.InvalidArgument, _model,
                "Pipe .npy/.npz/.pb files or folders into Measure-Calibration, or use -InputPath."));

        CalibrationTable table;
        try
        {
            table = _run!.Complete();
        }
        catch (ModelRunException e)
        {
            ThrowTerminatingError(RunError(e));
            return;
        }
        catch (OnnxModelException e)
        {
            ThrowTerminatingError(ModelError(e, _model));
            return;
        }
        catch (EvoQuant.Quantization.QuantizationOptionsException e)
        {
            // EQ's search and Auto's output check quantize the model as Invoke-Quantization would: options it refuses.
            ThrowTerminatingError(NewError(e, "InvalidSettings", ErrorCategory.InvalidArgument, _model,
                "-Method EQ and -Method Auto quantize the model to score it (with -PerChannel when given): drop -PerChannel, or calibrate with MinMax, Entropy or Percentile."));
            return;
        }
        catch (InvalidOperationException e)
        {
            ThrowTerminatingError(NewError(e, "NoUsableSamples", ErrorCategory.InvalidData, _model, "Check the sample errors above: shapes and types must match the model's inputs."));
            return;
        }
        finally
        {
            _run?.Dispose();
            WriteProgress(new ProgressRecord(1, "Measure-Calibration", "Done") { RecordType = ProgressRecordType.Completed });
        }

        WriteVerbose($"Calibrated {table.Count} tensors over {table.SampleCount} samples ({table.ErrorCount} samples failed).");
        foreach (var s in table.Skipped) WriteVerbose($"Skipped tensor '{s.Tensor}': {s.Reason}");
        if (table.Settings.Method == CalibrationMethod.Auto)
        {
            var check = table.Ranges.Select(r => r.ModelChoice).FirstOrDefault(c => c != null);
            WriteVerbose("Auto chose " + string.Join(", ", table.Ranges.GroupBy(r => r.Method).OrderBy(g => g.Key).Select(g => $"{g.Key} for {g.Count()}")) +
                (check?.Uniform is { } uniform
                    ? $" tensor(s): the output check found {uniform} everywhere better at the model's outputs than each tensor's method of least squared error ({check})."
                    : " tensor(s), each the method whose range quantizes its values with the least squared error" + (check != null ? $" (output check: {check})." : "."))
                + " Per tensor:");
            foreach (var r in table.Ranges) WriteVerbose($"  '{r.Tensor}' {r.Choice}");
        }
        if (table.Settings.Method == CalibrationMethod.EQ)
        {
            var searched = table.Ranges.Where(r => r.Search != null).ToList();
            var weights = searched.SelectMany(r => r.Search!.Weights).ToList();
            WriteVerbose($"EQ searched the input scales of {searched.Count} tensor(s) read by layers with weights ({searched.Count(r => r.Search!.Factor != 1f)} moved off the {table.Settings.EffectiveSearchBase} range) " +
                $"and the scales of {weights.Count} weight(s) ({weights.Count(w => w.Factor != 1f)} moved); the other tensors keep {table.Settings.EffectiveSearchBase}'s range:");
            foreach (var r in searched) WriteVerbose($"  '{r.Tensor}' {r.Choice}");
        }
        if (Merge is { Length: > 0 }) WriteVerbose($"Continued {Merge.Length} table(s): {table.SampleCount} samples in all.");
        var nonFinite = table.Ranges.Where(r => r.NonFiniteCount > 0).Select(r => r.Tensor)
            .Concat(table.Skipped.Where(s => s.Reason.StartsWith("only NaN", StringComparison.Ordinal)).Select(s => s.Tensor)).ToList();
        if (nonFinite.Count > 0)
            WriteWarning($"{nonFinite.Count} tensor(s) produced NaN or infinite values, e.g. '{string.Join("', '", nonFinite.Take(3))}': " +
                "those values are left out of the ranges, and tensors that produced nothing else have no range (see the table's Skipped). " +
                "The model's weights may hold NaN or infinity; check them before quantizing.");
        var cuts = table.HardCuts();
        if (cuts.Count > 0)
            WriteWarning($"{table.Settings.Method} cut {cuts.Count} tensor(s) to under 1/8 of the largest value they produced, e.g. " +
                string.Join("; ", cuts.Take(3).Select(r => FormattableString.Invariant($"'{r.Tensor}' [{r.RangeMin:G4}, {r.RangeMax:G4}] of [{r.Min:G4}, {r.Max:G4}]"))) +
                ". Such cuts can cost accuracy: check with Compare-QuantAccuracy -PerTensor, or calibrate with Percentile or MinMax.");
        if (OutFile != null)
        {
            // A refused or failed write is reported; the measured table is still returned.
            try { CalibrationTableFile.Save(this, table, OutFile, Force, inputs: Inputs()); }
            catch (OutputRefusedException e) { WriteError(RefusedError(e)); }
            catch (EvoQuant.IO.OutputNotWritableException e) { WriteError(OutputError(e)); }
        }
        WriteObject(table);
    }

    private void Feed(object item)
    {
        if (item is string path) _inputs.Add(SessionState.Path.GetUnresolvedProviderPathFromPSPath(path));
        EnsureRun();
        try
        {
            _run!.Add(item);
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
        catch (ModelRunException e)
        {
            _run?.Dispose();
            ThrowTerminatingError(RunError(e));
        }
        catch (OnnxModelException e)
        {
            _run?.Dispose();
            ThrowTerminatingError(ModelError(e, _model));
        }
    }

    // The model, not the samples, is what ONNX Runtime refused: no other sample can help.
    private ErrorRecord RunError(ModelRunException e) => NewError(e, "ModelNotRunnable", ErrorCategory.InvalidData, _model,
        "ONNX Runtime cannot run this model as it is (see the message): check it with onnx.checker, re-export it, or fix the tensor or input it names.");

    private void EnsureRun()
    {
        if (_run != null) return;
        if (_model == null)
            ThrowTerminatingError(NewError(new ArgumentException("Samples arrived before a model: give -Model, or pipe the model first."), "NoModel",
                ErrorCategory.InvalidArgument, InputObject, "Measure-Calibration -Model ./model.onnx -InputPath ./calib/*.npy"));
        var defaults = new CalibrationOptions();
        bool eq = MyInvocation.BoundParameters.ContainsKey(nameof(Method)) && Method == CalibrationMethod.EQ;
        bool auto = MyInvocation.BoundParameters.ContainsKey(nameof(Method)) && Method == CalibrationMethod.Auto;
        if (!eq && SearchBase != null)
            ThrowTerminatingError(NewError(new ArgumentException("-SearchBase applies to -Method EQ only."), "InvalidSettings", ErrorCategory.InvalidArgument, _model));
        if (!eq && !auto && (SearchRows != null || PerChannel.IsPresent))
            ThrowTerminatingError(NewError(new ArgumentException("-SearchRows and -PerChannel apply to -Method EQ and -Method Auto only."), "InvalidSettings", ErrorCategory.InvalidArgument, _model));
        var options = defaults with
        {
            SearchRows = SearchRows,
            SearchBase = SearchBase,
            // The model EQ and Auto's output check score is the one Invoke-Quantization makes by default (with -PerChannel when given).
            SearchQuantization = eq || auto ? EvoQuant.Targets.TargetProfile.Resolve(EvoQuant.Targets.QuantTarget.Host).StaticDefaults() with { PerChannel = PerChannel.IsPresent } : null,
            Method = MyInvocation.BoundParameters.ContainsKey(nameof(Method)) ? Method : defaults.Method,
            Bins = Bins ?? defaults.Bins,
            QuantizedBins = QuantizedBins ?? defaults.QuantizedBins,
            Percentile = Percentile ?? defaults.Percentile,
            Symmetric = MyInvocation.BoundParameters.ContainsKey(nameof(Symmetric)) ? Symmetric.IsPresent : null,
            MovingAverage = MovingAverage,
            BatchSize = BatchSize ?? defaults.BatchSize,
            OpTypes = OpType,
            IncludeNodes = IncludeNode,
            ExcludeNodes = ExcludeNode,
            IntraOpThreads = IntraOpThreads,
            MaxBatchOutputBytes = MaxOutputMemory ?? defaults.MaxBatchOutputBytes,
            MaxHistogramBytes = MaxOutputMemory ?? defaults.MaxHistogramBytes,
            OnSampleError = OnSampleError,
            MeasureChannelRanges = !NoChannelRanges,
        };
        var progress = new SynchronousProgress<CalibrationProgress>(p =>
        {
            string rate = $"{p.SamplesPerSecond:N1} samples/s";
            string status = p.TotalSamples is long t ? $"{p.SamplesDone}/{t} samples, {rate}" : $"{p.SamplesDone} samples, {rate}";
            WriteProgress(new ProgressRecord(1, "Measure-Calibration", status) { PercentComplete = p.PercentComplete, CurrentOperation = p.CurrentSource ?? "" });
        });
        try
        {
            _run = new CalibrationRun(_model!, options, progress, CancellationToken);
        }
        catch (ModelRunException e)
        {
            ThrowTerminatingError(RunError(e));
        }
        catch (OnnxModelException e)
        {
            ThrowTerminatingError(ModelError(e, _model));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            ThrowTerminatingError(NewError(e, "InvalidSettings", ErrorCategory.InvalidArgument, _model));
        }
        foreach (var t in Merge ?? Array.Empty<CalibrationTable>())
        {
            try { _run!.ContinueFrom(t); }
            catch (ArgumentException e) { ThrowTerminatingError(NewError(e, "MergeMismatch", ErrorCategory.InvalidArgument, t)); }
        }
        WriteVerbose($"Calibrating {_run!.Selection.Tensors.Count} tensors of '{_model!.Name}' with {options.Method} ({_run.Selection.Skipped.Count} left out).");
        var plan = _run.HistogramPlan;
        if (plan.Reduced)
            WriteWarning($"{plan.RequestedBins} bins for {plan.Tensors} tensors would need up to {Mib(HistogramMemoryPlan.Bytes(options.Method, plan.RequestedBins, plan.Tensors))} MiB of histograms, " +
                $"more than -MaxOutputMemory ({Mib(plan.BudgetBytes)} MiB): using {plan.Bins} bins (the table's Settings.Bins). Raise -MaxOutputMemory to keep more bins.");
        if (_run.ChannelRangeTensors > 0)
            WriteVerbose($"Also keeping the per-channel extremes of {_run.ChannelRangeTensors} MatMul inputs, for the outlier split: one more float pass (-NoChannelRanges skips it).");
        if (_run.SharedHistograms > 0)
            WriteVerbose($"{_run.SharedHistograms} histograms follow the values of the tensor they clamp or move (Relu, Clip, Reshape...): counted once for both.");
        foreach (var s in _run.Selection.Skipped) WriteDebug($"Not calibrated: '{s.Tensor}': {s.Reason}");
    }

    // A bad sample is reported and skipped; -ErrorAction Stop turns the WriteError into a stop.
    private SampleErrorAction OnSampleError(SampleError error)
    {
        var (reason, action) = error.Exception switch
        {
            SampleMismatchException { Kind: SampleMismatchKind.NonFinite } => ("SampleNotFinite", "Calibration samples must hold finite values: remove or repair the samples with NaN or infinity."),
            SampleMismatchException => ("SampleMismatch", "The sample's inputs must match the model's input names, element types and shapes (see Get-OnnxGraph ... | ForEach-Object Inputs)."),
            SampleFormatException => ("SampleUnreadable", "Use C-order little-endian .npy/.npz files, ONNX TensorProto .pb files or arrays."),
            _ => ("SampleFailed", "See the error message."),
        };
        WriteError(NewError(error.Exception, reason, ErrorCategory.InvalidData, error.Source, action));
        return SampleErrorAction.Continue;
    }

    private static long Mib(long bytes) => (bytes + (1 << 20) - 1) >> 20;
}
