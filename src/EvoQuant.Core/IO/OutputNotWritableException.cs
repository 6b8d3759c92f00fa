namespace EvoQuant.IO;

/// <summary>An output file could not be written: the folder is read-only, a parent is a file, the file
/// system refuses it. Nothing was left at the output path. The cmdlets map it to ...OutputNotWritable.</summary>
public sealed class OutputNotWritableException : IOException
{
    public string OutputPath { get; }

    /// <summary>True when the operating system denied access (rather than the path being unusable).</summary>
    public bool AccessDenied { get; }

    public OutputNotWritableException(string outputPath, Exception inner)
        : base($"Cannot write '{outputPath}': {inner.Message} Nothing was written.", inner)
    {
        OutputPath = outputPath;
        AccessDenied = inner is UnauthorizedAccessException;
    }
}
