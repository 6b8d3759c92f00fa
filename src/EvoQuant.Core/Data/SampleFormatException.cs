namespace EvoQuant.Data;

/// <summary>A sample file (.npy, .npz, .pb) that cannot be read: the message names the file and why.</summary>
public sealed class SampleFormatException : Exception
{
    /// <summary>The file (or in-memory source description) that was being read.</summary>
    public string? SourceName { get; }

    public SampleFormatException(string message, string? sourceName = null, Exception? inner = null)
        : base(sourceName != null ? $"'{sourceName}': {message}" : message, inner)
    {
        SourceName = sourceName;
    }
}
