using System.Management.Automation;
using EvoQuant.Onnx;
using EvoQuant.PowerShell.Infrastructure;

namespace EvoQuant.PowerShell.Commands;

/// <summary>Compare-QuantAccuracy: runs the float and the quantized model side by side.</summary>
[Cmdlet(VerbsData.Compare, "QuantAccuracy")]
public sealed class CompareQuantAccuracyCommand : EvoQuantCmdlet
{
    [Parameter(Mandatory = true)]
    [ModelTransformation]
    public OnnxModel? Reference { get; set; }

    [Parameter(Mandatory = true)]
    [ModelTransformation]
    public OnnxModel? Candidate { get; set; }

    [Parameter(ValueFromPipeline = true)]
    public object? InputObject { get; set; }

    protected override void EndProcessing() =>
        ThrowTerminatingError(NewError(new NotImplementedException("Compare-QuantAccuracy is not implemented yet."), "NotImplemented", ErrorCategory.NotImplemented, Reference));
}
