using System.Management.Automation;
using EvoQuant.Onnx;
using EvoQuant.PowerShell.Infrastructure;

namespace EvoQuant.PowerShell.Commands;

/// <summary>Measure-Calibration: streams calibration samples through a model and collects activation ranges.</summary>
[Cmdlet(VerbsDiagnostic.Measure, "Calibration")]
public sealed class MeasureCalibrationCommand : EvoQuantCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [ModelTransformation]
    public OnnxModel? Model { get; set; }

    [Parameter(ValueFromPipeline = true)]
    public object? InputObject { get; set; }

    [Parameter]
    [ValidateSet("MinMax", "Entropy", "Percentile")]
    public string Method { get; set; } = "MinMax";

    protected override void EndProcessing() =>
        ThrowTerminatingError(NewError(new NotImplementedException("Measure-Calibration is not implemented yet."), "NotImplemented", ErrorCategory.NotImplemented, Model));
}
