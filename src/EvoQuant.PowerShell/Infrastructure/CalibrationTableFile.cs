using System.Management.Automation;
using EvoQuant.Calibration;

namespace EvoQuant.PowerShell.Infrastructure;

/// <summary>Saving a calibration table from a cmdlet: the format given or the one the extension implies
/// (.cache = ONNX Runtime's calibration.cache text, anything else JSON), ShouldProcess, atomic write.</summary>
internal static class CalibrationTableFile
{
    private static string Describe(CalibrationTableFormat f) => f switch
    {
        CalibrationTableFormat.Cache => "calibration.cache text",
        CalibrationTableFormat.TensorRT => "TensorRT calibration cache",
        _ => "JSON calibration table",
    };

    public static void Save(PSCmdlet cmdlet, CalibrationTable table, string path, bool force, CalibrationTableFormat? format = null)
    {
        string full = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
        var f = format ?? CalibrationTable.FormatOf(full);
        if (!cmdlet.ShouldProcess(full, $"Write {Describe(f)} of {table.Count} tensors")) return;
        if (File.Exists(full) && !force)
            throw new IOException($"'{full}' exists; use -Force to replace it.");
        table.Save(full, f);
        cmdlet.WriteVerbose($"Wrote {Describe(f)} '{full}'.");
    }
}
