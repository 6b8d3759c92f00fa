using System.Management.Automation;
using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.PowerShell.Infrastructure;
using EvoQuant.Quantization;

namespace EvoQuant.PowerShell.Commands;

/// <summary>Compare-QuantAccuracy: runs the float and the quantized model on the same samples and says
/// how much was lost (per output: SQNR, cosine, MSE, errors, top-k agreement, accuracy with labels) and,
/// with -PerTensor, where: every tensor and node ranked worst first, plus the nodes to keep in float. Unless
/// -NoTiming, both models are then timed on this machine (latency, throughput, speedup: the report's Speed).</summary>
[Cmdlet(VerbsData.Compare, "QuantAccuracy", SupportsShouldProcess = true)]
[OutputType(typeof(AccuracyReport))]
public sealed class CompareQuantAccuracyCommand : EvoQuantCmdlet
{
    /// <summary>The float model. Optional when -Candidate is a result of Invoke-Quantization (it knows its source).</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("SourceModel")]
    [ModelTransformation]
    public ModelReference? Reference { get; set; }

    /// <summary>The quantized model: a model, a path, or a result of Invoke-Quantization (also from the pipeline).</summary>
    [Parameter(Position = 1)]
    [ModelTransformation]
    public ModelReference? Candidate { get; set; }

    /// <summary>From the pipeline: a result of Invoke-Quantization (the candidate), or samples as Measure-Calibration takes them.</summary>
    [Parameter(ValueFromPipeline = true)]
    [AllowNull]
    public object? InputObject { get; set; }

    /// <summary>Sample files or folders (wildcards).</summary>
    [Parameter]
    public string[]? InputPath { get; set; }

    /// <summary>Class labels, one per sample row: an integer array or a .npy file.</summary>
    [Parameter]
    public object? Label { get; set; }

    /// <summary>Compare every intermediate tensor and weight, and each node's own error; suggest nodes to keep in float.</summary>
    [Parameter]
    public SwitchParameter PerTensor { get; set; }

    /// <summary>Compare the pooled sentence embeddings (mean over the attention mask, L2-normalised) of a
    /// sentence-embedding model: cosines, Spearman correlation of query x document cosines, nearest-neighbour
    /// agreement (the report's Embedding). Implied by the other embedding parameters.</summary>
    [Parameter]
    public SwitchParameter Embedding { get; set; }

    /// <summary>The hidden-state output to pool (default: the model's first output).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? HiddenStateOutput { get; set; }

    /// <summary>The input holding the attention mask (default: attention_mask).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? AttentionMaskInput { get; set; }

    /// <summary>The first rows taken as queries (default: a fifth of the rows, at most 500).</summary>
    [Parameter]
    [ValidateRange(1, 1_000_000)]
    public int? QueryCount { get; set; }

    /// <summary>The rows after the queries taken as documents (default: the rest, at most 2000).</summary>
    [Parameter]
    [ValidateRange(1, 1_000_000)]
    public int? DocumentCount { get; set; }

    // Parameters not given stay null: Core's ComparisonOptions holds the defaults.

    [Parameter]
    [ValidateRange(1, 1000)]
    public int? TopK { get; set; }

    [Parameter]
    [ValidateRange(1, 65536)]
    public int? BatchSize { get; set; }

    /// <summary>Own-error SQNR (dB) under which a node is suggested for exclusion (with -PerTensor).</summary>
    [Parameter]
    [ValidateRange(0.0, 200.0)]
    public double? TargetSqnr { get; set; }

    /// <summary>Calibration table whose ranges the report's histograms mark.</summary>
    [Parameter]
    public CalibrationTable? Calibration { get; set; }

    /// <summary>Write a self-contained HTML report here (summary, per-tensor SQNR chart, histograms).</summary>
    [Parameter]
    public string? Report { get; set; }

    /// <summary>Replace an existing report file.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Skip the timing: by default both models are also timed on this machine (latency at one row,
    /// throughput at -BatchSize rows, interleaved runs) and the report carries the speedup.</summary>
    [Parameter]
    public SwitchParameter NoTiming { get; set; }

    private readonly List<object> _samples = new();
    private ModelReference? _candidate;
    private OnnxModel? _reference;

    protected override void ProcessRecord()
    {
        object? item = PipelineValues.Unwrap(InputObject);
        switch (item)
        {
            case null:
                return;
            case QuantizationResult or OnnxModel when _candidate == null && Candidate == null:
                // `... | Invoke-Quantization ... | Compare-QuantAccuracy -InputPath ...`
                _candidate = ModelReference.From(item, SessionState.Path.GetUnresolvedProviderPathFromPSPath);
                return;
            case FileSystemInfo fsi:
                _samples.Add(fsi.FullName);
                return;
            default:
                // Samples are only references (paths) or values the pipeline already holds; the
                // comparison reads them batch by batch in EndProcessing.
                _samples.Add(PipelineValues.ToSampleItem(item)!);
                return;
        }
    }

    protected override void EndProcessing()
    {
        _candidate = Candidate ?? _candidate;
        if (_candidate == null)
            ThrowTerminatingError(NewError(new ArgumentException("No candidate model: give -Candidate, or pipe a result of Invoke-Quantization."), "NoCandidate",
                ErrorCategory.InvalidArgument, null));
        // Loaded here, not while binding, so that a model that does not load gets its own ErrorId.
        var candidate = LoadModel(_candidate!);
        _reference = Reference != null ? LoadModel(Reference) : _candidate!.Result?.SourceModel;
        var reference = _reference;
        if (reference == null)
            ThrowTerminatingError(NewError(new ArgumentException("No reference model: give -Reference (the float model)."), "NoReference", ErrorCategory.InvalidArgument, candidate));
        if (InputPath != null) _samples.AddRange(ResolvePaths(InputPath, literal: false, models: false));
        if (_samples.Count == 0)
            ThrowTerminatingError(NewError(new ArgumentException("No samples: pipe sample files or use -InputPath."), "NoSamples", ErrorCategory.InvalidArgument, candidate,
                "Compare-QuantAccuracy -Reference m.onnx -Candidate m.int8.onnx -InputPath ./test/*.npy"));

        var defaults = new ComparisonOptions();
        var options = defaults with
        {
            BatchSize = BatchSize ?? defaults.BatchSize,
            TopK = TopK ?? defaults.TopK,
            PerTensor = PerTensor,
            SuggestionSqnrDb = TargetSqnr ?? defaults.SuggestionSqnrDb,
            CalibrationRanges = Calibration?.Ranges.ToDictionary(r => r.Tensor, r => (r.RangeMin, r.RangeMax)),
            // A result of Invoke-Quantization compared with its own float model: the rewrite's record of what it
            // did. Otherwise (files, another tool's model) the per-tensor plan reads it off the two graphs.
            Provenance = _candidate!.Result is { } result && ReferenceEquals(reference, result.SourceModel) ? result.Provenance : null,
        };
        if (Embedding || HiddenStateOutput != null || AttentionMaskInput != null || QueryCount != null || DocumentCount != null)
        {
            var embedding = new EmbeddingOptions();
            options = options with
            {
                Embedding = embedding with
                {
                    HiddenStateOutput = HiddenStateOutput,
                    AttentionMaskInput = AttentionMaskInput ?? embedding.AttentionMaskInput,
                    Queries = QueryCount,
                    Documents = DocumentCount,
                },
            };
        }
        // Throughput is timed at the comparison's batch size.
        options = options with { Timing = NoTiming ? null : new SpeedOptions { BatchSize = options.BatchSize } };
        try
        {
            if (Label != null) options = options with { Labels = LabelArgument.Read(Label, p => SessionState.Path.GetUnresolvedProviderPathFromPSPath(p)) };
            else options = options with { OnSampleError = OnSampleError };
        }
        catch (ArgumentException e)
        {
            ThrowTerminatingError(NewError(e, "InvalidLabel", ErrorCategory.InvalidArgument, Label));
        }

        var progress = new SynchronousProgress<ComparisonProgress>(p =>
            WriteProgress(new ProgressRecord(3, "Compare-QuantAccuracy", $"{p.Phase}: {p.Rows} rows, {p.Batches} batches")));
        AccuracyReport report;
        try
        {
            WriteVerbose($"Comparing '{reference!.Name}' with '{candidate.Name}' on {_samples.Count} sample item(s){(PerTensor ? ", per tensor" : "")}{(NoTiming ? "" : ", then timing both")}.");
            report = AccuracyComparer.Compare(reference, candidate, _samples, options, progress, CancellationToken);
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
        catch (Exception e) when (e is ArgumentException or SampleMismatchException or SampleFormatException or InvalidOperationException)
        {
            ThrowTerminatingError(NewError(e, e is SampleMismatchException or SampleFormatException ? "SampleMismatch" : "CompareFailed", ErrorCategory.InvalidData, candidate,
                "The samples must fit both models' inputs; with -Label, one label per sample row."));
            return;
        }
        finally
        {
            WriteProgress(new ProgressRecord(3, "Compare-QuantAccuracy", "Done") { RecordType = ProgressRecordType.Completed });
        }

        if (report.Speed is { } speed) WriteSpeedVerbose(speed);
        else if (!NoTiming && report.Notes.FirstOrDefault(n => n.StartsWith("Speed was not measured", StringComparison.Ordinal)) is { } why) WriteWarning(why);
        if (report.Suggestion.ExcludeNode.Length > 0)
            WriteVerbose($"Suggestion: keep in float {string.Join(", ", report.Suggestion.ExcludeNode)} ({report.Suggestion.Reason}).");
        if (Report != null) WriteReport(report);
        // A deployed model that loses more than its simulation is a warning; other notes are detail.
        var gapNotes = report.KernelGaps.Where(g => g.IsNoticeable).Select(EvoQuant.Evaluation.KernelGapMeter.Explain).ToHashSet();
        foreach (var note in report.Notes)
            if (gapNotes.Contains(note)) WriteWarning(note); else WriteVerbose(note);
        WriteObject(report);
    }

    private void WriteSpeedVerbose(SpeedReport speed)
    {
        WriteVerbose($"Timing on {speed.Cpu.Model} ({speed.Cpu.InstructionSetText}), {speed.Threads} ONNX Runtime intra-op thread(s), {speed.Elapsed.TotalSeconds:F1} s.");
        var series = ReferenceEquals(speed.Latency, speed.Throughput) ? new[] { speed.Throughput } : new[] { speed.Latency, speed.Throughput };
        foreach (var m in series)
            WriteVerbose($"Batch {m.BatchSize}, {m.Pairs} interleaved pairs: reference {m.Reference}, candidate {m.Candidate}; speedup {m.Speedup:F2}x ({m.ReferenceRowsPerSecond:F0} -> {m.CandidateRowsPerSecond:F0} rows/s).");
        foreach (var note in speed.Notes) WriteVerbose(note);
    }

    private OnnxModel LoadModel(ModelReference reference)
    {
        try { return reference.Load(); }
        catch (OnnxModelException e) { ThrowTerminatingError(ModelError(e)); }
        catch (ArgumentException e) { ThrowTerminatingError(NewError(e, "InvalidModel", ErrorCategory.InvalidArgument, reference.Original)); }
        return null!; // not reached: ThrowTerminatingError throws
    }

    private void WriteReport(AccuracyReport report)
    {
        string full = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Report!);
        // The models and the sample files are inputs: -Force replaces an old report, never them.
        var inputs = new[] { _reference?.Path, _candidate?.Path }.OfType<string>()
            .Concat(_samples.OfType<string>());
        if (inputs.Any(i => EvoQuant.Onnx.RealPath.SameEntry(i, full)))
        {
            WriteError(NewError(new IOException($"Refusing to overwrite '{full}': it is an input of this command."), "ReportIsInput", ErrorCategory.InvalidArgument, full,
                "Choose a -Report path that is not a model or a sample file."));
            return;
        }
        if (File.Exists(full) && !Force)
        {
            WriteError(NewError(new IOException($"'{full}' already exists."), "ReportExists", ErrorCategory.ResourceExists, full, "Use -Force to replace it."));
            return;
        }
        if (!ShouldProcess(full, "Write HTML accuracy report")) return;
        try
        {
            HtmlReport.Write(report, full);
            WriteVerbose($"Wrote report '{full}'.");
        }
        catch (EvoQuant.IO.OutputNotWritableException e)
        {
            WriteError(NewError(e, "ReportWriteFailed", e.AccessDenied ? ErrorCategory.PermissionDenied : ErrorCategory.WriteError, full,
                "Choose a -Report path in a folder you can write to; nothing was written."));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            WriteError(NewError(e, "ReportWriteFailed", ErrorCategory.WriteError, full));
        }
    }

    private SampleErrorAction OnSampleError(SampleError error)
    {
        WriteError(NewError(error.Exception, error.Exception is SampleFormatException ? "SampleUnreadable" : "SampleMismatch", ErrorCategory.InvalidData, error.Source,
            "The sample's inputs must match both models' input names, element types and shapes."));
        return SampleErrorAction.Continue;
    }
}
