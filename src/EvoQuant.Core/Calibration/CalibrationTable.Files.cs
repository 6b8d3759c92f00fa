namespace EvoQuant.Calibration;

// Calibration tables as files: JSON (lossless), ONNX Runtime's calibration.cache text, TensorRT's cache.
public sealed partial class CalibrationTable
{
    /// <summary>The format a path's extension implies: .cache is ONNX Runtime's calibration.cache text, anything else JSON.</summary>
    public static CalibrationTableFormat FormatOf(string path) =>
        path.EndsWith(".cache", StringComparison.OrdinalIgnoreCase) ? CalibrationTableFormat.Cache : CalibrationTableFormat.Json;

    public string ToText(CalibrationTableFormat format) => format switch
    {
        CalibrationTableFormat.Json => ToJson(),
        CalibrationTableFormat.Cache => ToCalibrationCache(),
        CalibrationTableFormat.TensorRT => ToTensorRtCache(),
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    /// <summary>Reads any of the three formats, told apart by their content (JSON object, "TRT-" header, lines).</summary>
    public static CalibrationTable Parse(string text, string? source = null)
    {
        var start = text.AsSpan().TrimStart();
        if (start.StartsWith("{")) return FromJson(text, source);
        if (start.StartsWith("TRT-")) return FromTensorRtCache(text, source);
        return FromCalibrationCache(text, source);
    }

    /// <summary>Writes the table to a file, replacing it atomically; the format defaults to the one the
    /// extension implies (<see cref="FormatOf"/>).</summary>
    /// <exception cref="EvoQuant.IO.OutputNotWritableException">The file system refused the write; nothing is left at the path.</exception>
    public void Save(string path, CalibrationTableFormat? format = null)
    {
        string full = Path.GetFullPath(path);
        EvoQuant.IO.AtomicOutput.WriteAllText(full, ToText(format ?? FormatOf(full)));
    }

    /// <summary>Reads a table saved in any of the formats (see <see cref="Parse"/>).</summary>
    /// <exception cref="FormatException">The file is not a table, is damaged, or holds a range that cannot be used.</exception>
    /// <exception cref="IOException">The file cannot be read (missing, a folder, no permission).</exception>
    public static CalibrationTable Load(string path)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new IOException($"'{full}' is a folder, not a calibration table file.");
        string text;
        try { text = File.ReadAllText(full); }
        catch (UnauthorizedAccessException e) { throw new IOException($"'{full}' cannot be read: {e.Message}", e); }
        if (string.IsNullOrWhiteSpace(text)) throw new FormatException($"'{full}' is empty; it holds no calibration table.");
        return Parse(text, full);
    }
}
