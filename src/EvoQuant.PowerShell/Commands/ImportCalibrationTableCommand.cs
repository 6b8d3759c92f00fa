using System.Management.Automation;
using EvoQuant.Calibration;
using EvoQuant.PowerShell.Infrastructure;

namespace EvoQuant.PowerShell.Commands;

/// <summary>Import-CalibrationTable: loads calibration tables saved as JSON, calibration.cache text or TensorRT's cache.</summary>
[Cmdlet(VerbsData.Import, "CalibrationTable")]
[OutputType(typeof(CalibrationTable))]
public sealed class ImportCalibrationTableCommand : EvoQuantCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = Array.Empty<string>();

    protected override void ProcessRecord()
    {
        foreach (string file in ResolvePaths(Path, literal: false, models: false))
        {
            try
            {
                WriteObject(CalibrationTable.Load(file));
            }
            catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or InvalidDataException or IOException or ArgumentException)
            {
                WriteError(NewError(e, "InvalidTable", ErrorCategory.InvalidData, file,
                    "Give a table written by Export-CalibrationTable: JSON, calibration.cache text ('<tensor> <max |x|>' lines) or a TensorRT cache ('TRT-' header)."));
            }
        }
    }
}
