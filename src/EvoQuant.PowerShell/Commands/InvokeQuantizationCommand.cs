using System.Management.Automation;
using EvoQuant.Onnx;
using EvoQuant.PowerShell.Infrastructure;

namespace EvoQuant.PowerShell.Commands;

/// <summary>Invoke-Quantization: writes a quantized model.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "Quantization", SupportsShouldProcess = true)]
public sealed class InvokeQuantizationCommand : EvoQuantCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [ModelTransformation]
    public OnnxModel? Model { get; set; }

    [Parameter]
    public object? Calibration { get; set; }

    [Parameter(Mandatory = true)]
    public string Path { get; set; } = "";

    [Parameter]
    public SwitchParameter Dynamic { get; set; }

    protected override void ProcessRecord() =>
        ThrowTerminatingError(NewError(new NotImplementedException("Invoke-Quantization is not implemented yet."), "NotImplemented", ErrorCategory.NotImplemented, Model));
}
