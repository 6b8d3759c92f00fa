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

    /// <summary>Writes the table unless -WhatIf. Refuses an input (<paramref name="inputs"/>: the model,
    /// the sample files, the folders they came from) and, without <paramref name="force"/>, an existing file.</summary>
    /// <exception cref="OutputRefusedException">The path is an input, exists, or names no file.</exception>
    /// <exception cref="EvoQuant.IO.OutputNotWritableException">The file system refused the write.</exception>
    public static void Save(PSCmdlet cmdlet, CalibrationTable table, string path, bool force, CalibrationTableFormat? format = null,
        IEnumerable<string>? inputs = null)
    {
        string full = Check(cmdlet, path, force, inputs);
        var f = format ?? CalibrationTable.FormatOf(full);
        if (!cmdlet.ShouldProcess(full, $"Write {Describe(f)} of {table.Count} tensors")) return;
        table.Save(full, f);
        cmdlet.WriteVerbose($"Wrote {Describe(f)} '{full}'.");
    }

    /// <summary>The full path to write, after the checks <see cref="Save"/> makes (run them early, before any work).</summary>
    public static string Check(PSCmdlet cmdlet, string path, bool force, IEnumerable<string>? inputs = null)
    {
        if (EvoQuantCmdlet.UnusableOutputPath(path, folderAllowed: false) is string bad)
            throw new OutputRefusedException(path, "InvalidOutputPath", ErrorCategory.InvalidArgument, bad, "Give the path of a file to write.");
        string full = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
        foreach (string input in inputs ?? Array.Empty<string>())
        {
            string inputFull = System.IO.Path.GetFullPath(input);
            bool inside = Directory.Exists(inputFull) && EvoQuant.Onnx.RealPath.Entry(full).StartsWith(
                EvoQuant.Onnx.RealPath.Entry(inputFull).TrimEnd(System.IO.Path.DirectorySeparatorChar) + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal);
            if (EvoQuant.Onnx.RealPath.SameEntry(inputFull, full) || (inside && File.Exists(full)))
                throw new OutputRefusedException(full, "OutputIsInput", ErrorCategory.InvalidArgument,
                    $"Refusing to overwrite '{full}': it is an input of this command.", "Choose an output path that is not the model or a calibration data file.");
        }
        if (Directory.Exists(full))
            throw new OutputRefusedException(full, "OutputIsFolder", ErrorCategory.InvalidArgument, $"'{full}' is a folder.", "Give the path of a file to write.");
        if (File.Exists(full) && !force)
            throw new OutputRefusedException(full, "OutputExists", ErrorCategory.ResourceExists, $"'{full}' exists; use -Force to replace it.",
                "Use -Force to replace it, or choose another path.");
        return full;
    }
}
