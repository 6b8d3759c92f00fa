using System.Management.Automation;
using EvoQuant.Calibration;

namespace EvoQuant.PowerShell.Infrastructure;

/// <summary>Saving a calibration table from a cmdlet: format by extension (.cache = TensorRT text,
/// anything else JSON), ShouldProcess, atomic write.</summary>
internal static class CalibrationTableFile
{
    public static bool IsTensorRtCache(string path) => path.EndsWith(".cache", StringComparison.OrdinalIgnoreCase);

    public static void Save(PSCmdlet cmdlet, CalibrationTable table, string path, bool force)
    {
        string full = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
        string format = IsTensorRtCache(full) ? "TensorRT calibration cache" : "JSON calibration table";
        if (!cmdlet.ShouldProcess(full, $"Write {format} of {table.Count} tensors")) return;
        if (File.Exists(full) && !force)
            throw new IOException($"'{full}' exists; use -Force to replace it.");
        string temp = full + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        try
        {
            if (IsTensorRtCache(full)) File.WriteAllText(temp, table.ToTensorRtCache());
            else File.WriteAllText(temp, table.ToJson());
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        cmdlet.WriteVerbose($"Wrote {format} '{full}'.");
    }

    public static CalibrationTable Load(string fullPath) =>
        IsTensorRtCache(fullPath) ? CalibrationTable.ImportTensorRtCache(fullPath) : CalibrationTable.Load(fullPath);
}
