using System.Management.Automation;
using EvoQuant.Onnx;
using EvoQuant.PowerShell.Infrastructure;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.PowerShell.Commands;

/// <summary>Optimize-OnnxGraph: lets ONNX Runtime optimize a model's graph and save it with the types and
/// shapes it inferred (the reference tool's quant_pre_process), before calibration and quantization.
/// -Level Extended writes ONNX Runtime's fused transformer ops (Attention, SkipLayerNormalization, ...),
/// which dynamic quantization then quantizes in their fused form.</summary>
[Cmdlet(VerbsCommon.Optimize, "OnnxGraph", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(GraphOptimizationResult))]
public sealed class OptimizeOnnxGraphCommand : EvoQuantCmdlet
{
    /// <summary>The model: a model object, a path or a FileInfo.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [ModelTransformation]
    [ValidateNotNull]
    public ModelReference? Model { get; set; }

    /// <summary>The optimized model file to write (never the input).</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [Alias("OutFile", "OutputPath")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Basic (plain ONNX, the default) or Extended (ONNX Runtime's fused com.microsoft ops).</summary>
    [Parameter]
    public GraphOptimization Level { get; set; } = GraphOptimization.Basic;

    /// <summary>Replace an existing output file (the input model is never replaced).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        OnnxModel model;
        try { model = Model!.Load(); }
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
        string output = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
        if (model.Path != null && RealPath.SameEntry(model.Path, output))
        {
            WriteError(NewError(new IOException($"Refusing to overwrite the input model '{output}'."), "OutputIsInput", ErrorCategory.InvalidArgument, output,
                "Choose a -Path other than the input model."));
            return;
        }
        if (Directory.Exists(output))
        {
            WriteError(NewError(new IOException($"'{output}' is a folder."), "InvalidOutputPath", ErrorCategory.InvalidArgument, output, "Give the path of the .onnx file to write."));
            return;
        }
        if (File.Exists(output) && !Force)
        {
            WriteError(NewError(new IOException($"'{output}' already exists."), "OutputExists", ErrorCategory.ResourceExists, output,
                "Use -Force to replace it, or choose another -Path."));
            return;
        }
        if (!ShouldProcess(output, $"Optimize the graph of '{model.Name}' with ONNX Runtime ({Level}) and write it")) return;
        try
        {
            WriteVerbose($"Optimizing '{model.Name}' at level {Level}.");
            var result = RuntimeGraphOptimizer.Optimize(model, output, Level);
            WriteVerbose($"{result.NodesBefore} nodes -> {result.NodesAfter}; added: {(result.OpTypesAdded.Count == 0 ? "none" : string.Join(", ", result.OpTypesAdded.Select(kv => $"{kv.Key} x{kv.Value}")))}.");
            WriteObject(result);
        }
        catch (OnnxRuntimeException e)
        {
            WriteError(NewError(e, "OptimizationFailed", ErrorCategory.InvalidData, model, "ONNX Runtime cannot load this model; check it with Get-OnnxGraph."));
        }
        catch (OnnxModelException e)
        {
            WriteError(ModelError(e, output));
        }
        catch (EvoQuant.IO.OutputNotWritableException e)
        {
            WriteError(OutputError(e));
        }
    }
}
