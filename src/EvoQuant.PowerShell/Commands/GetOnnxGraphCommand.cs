using System.Management.Automation;
using EvoQuant.Onnx;
using EvoQuant.PowerShell.Infrastructure;

namespace EvoQuant.PowerShell.Commands;

/// <summary>Get-OnnxGraph: loads ONNX models into model objects to inspect and pipe.</summary>
[Cmdlet(VerbsCommon.Get, "OnnxGraph", DefaultParameterSetName = PathSet)]
[OutputType(typeof(OnnxModel))]
public sealed class GetOnnxGraphCommand : EvoQuantCmdlet
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    /// <summary>Model file paths; wildcards allowed.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = Array.Empty<string>();

    /// <summary>Model file paths taken as typed (no wildcards); binds FileInfo objects by PSPath or FullName.</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = Array.Empty<string>();

    protected override void ProcessRecord()
    {
        bool literal = ParameterSetName == LiteralPathSet;
        var files = ResolvePaths(literal ? LiteralPath : Path, literal);
        for (int i = 0; i < files.Count; i++)
        {
            string file = files[i];
            if (files.Count > 1)
                WriteProgress(new ProgressRecord(1, "Get-OnnxGraph", $"Loading {System.IO.Path.GetFileName(file)} ({i + 1}/{files.Count})")
                { PercentComplete = 100 * i / files.Count });
            try
            {
                WriteVerbose($"Loading '{file}'.");
                var model = OnnxModel.Load(file);
                WriteVerbose($"'{model.Name}': IR {model.IrVersion}, opset {model.DefaultOpset}, {model.NodeCount} nodes, {model.Initializers.Count} constants, {model.ParameterCount} parameters.");
                WriteObject(model);
            }
            catch (OnnxModelException e)
            {
                WriteError(ModelError(e, file)); // one bad file does not stop the others
            }
            catch (IOException e)
            {
                WriteError(NewError(e, "ReadFailed", ErrorCategory.ReadError, file, "Check that the file is readable and not locked."));
            }
            catch (UnauthorizedAccessException e)
            {
                WriteError(NewError(e, "AccessDenied", ErrorCategory.PermissionDenied, file));
            }
        }
        if (files.Count > 1) WriteProgress(new ProgressRecord(1, "Get-OnnxGraph", "Done") { RecordType = ProgressRecordType.Completed });
    }
}
