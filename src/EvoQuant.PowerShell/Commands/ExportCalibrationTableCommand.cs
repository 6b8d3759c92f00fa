using System.Management.Automation;
using EvoQuant.Calibration;
using EvoQuant.PowerShell.Infrastructure;

namespace EvoQuant.PowerShell.Commands;

/// <summary>Export-CalibrationTable: saves a calibration table as JSON (lossless, mergeable), as ONNX
/// Runtime's calibration.cache text (the default when the path ends in .cache), or as TensorRT's cache.</summary>
[Cmdlet(VerbsData.Export, "CalibrationTable", SupportsShouldProcess = true)]
[OutputType(typeof(FileInfo))]
public sealed class ExportCalibrationTableCommand : EvoQuantCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public CalibrationTable? InputObject { get; set; }

    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>The file format; by default the one the extension implies (.cache: Cache, else Json).</summary>
    [Parameter]
    public CalibrationTableFormat? Format { get; set; }

    /// <summary>Replace an existing file.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        string full = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
        try
        {
            if (File.Exists(full) && !Force)
            {
                WriteError(NewError(new IOException($"'{full}' exists; use -Force to replace it."), "OutputExists", ErrorCategory.ResourceExists, full,
                    "Use -Force, or choose another -Path."));
                return;
            }
            CalibrationTableFile.Save(this, InputObject!, full, force: true, Format);
            if (PassThru && File.Exists(full)) WriteObject(new FileInfo(full));
        }
        catch (OutputRefusedException e)
        {
            WriteError(RefusedError(e));
        }
        catch (EvoQuant.IO.OutputNotWritableException e)
        {
            WriteError(OutputError(e));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            WriteError(NewError(e, "WriteFailed", ErrorCategory.WriteError, full));
        }
    }
}
