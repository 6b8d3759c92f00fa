using EvoQuant.Onnx.Proto;

namespace EvoQuant.Onnx;

/// <summary>Where an external tensor's bytes are: a file relative to the model's folder, an offset and a length.</summary>
public sealed record ExternalDataInfo(string Location, long Offset, long? Length)
{
    public const string LocationKey = "location";
    public const string OffsetKey = "offset";
    public const string LengthKey = "length";

    public static ExternalDataInfo Parse(TensorProto t)
    {
        string? location = null;
        long offset = 0;
        long? length = null;
        foreach (var e in t.ExternalData)
        {
            switch (e.Key)
            {
                case LocationKey: location = e.Value; break;
                case OffsetKey: offset = ParseLong(t, e.Key, e.Value); break;
                case LengthKey: length = ParseLong(t, e.Key, e.Value); break;
            }
        }
        if (string.IsNullOrEmpty(location))
            throw new OnnxModelException(ModelErrorKind.Invalid, $"Tensor '{t.Name}' is marked external but has no 'location'.");
        return new ExternalDataInfo(location, offset, length);
    }

    private static long ParseLong(TensorProto t, string key, string value) =>
        long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long v)
            ? v
            : throw new OnnxModelException(ModelErrorKind.Invalid, $"Tensor '{t.Name}' has external data {key} '{value}', which is not a non-negative integer.");

    /// <summary>The real path of the location's file, which must be inside <paramref name="baseDirectory"/>.
    /// An absolute location, one that escapes the folder with '..', or one that leaves it through a
    /// symbolic link at any level (a linked folder, a linked file) is refused: reading it would let a model
    /// file read any file on the machine (a known attack on ONNX loaders). Open the returned path, not the
    /// location: it is the file that was checked.</summary>
    public string ResolveSafely(string baseDirectory, string? modelPath, string tensorName)
    {
        if (Path.IsPathRooted(Location) || Location.Contains(':') || Location.Contains('\0'))
            throw new OnnxModelException(ModelErrorKind.ExternalDataOutsideFolder,
                $"External data location '{Location}' of tensor '{tensorName}' is an absolute path; ONNX requires a path relative to the model's folder.", modelPath);
        string root = Path.GetFullPath(baseDirectory);
        string lexical = Path.GetFullPath(Path.Combine(root, Location));
        if (!RealPath.IsInside(lexical, root))
            throw new OnnxModelException(ModelErrorKind.ExternalDataOutsideFolder,
                $"External data location '{Location}' of tensor '{tensorName}' points outside the model's folder '{root}'; it is refused.", modelPath);

        string? realRoot, real;
        try
        {
            realRoot = RealPath.Resolve(root);
            real = RealPath.Resolve(Path.Combine(root, Location));
        }
        catch (IOException e)
        {
            throw new OnnxModelException(ModelErrorKind.ExternalDataOutsideFolder,
                $"External data location '{Location}' of tensor '{tensorName}' cannot be resolved: {e.Message}", modelPath, e);
        }
        if (realRoot == null || real == null || !File.Exists(real))
            throw new OnnxModelException(ModelErrorKind.ExternalDataMissing,
                $"External data file '{lexical}' of tensor '{tensorName}' does not exist.", modelPath);
        if (!RealPath.IsInside(real, realRoot))
            throw new OnnxModelException(ModelErrorKind.ExternalDataOutsideFolder,
                $"External data location '{Location}' of tensor '{tensorName}' is a symbolic link (or lies in a linked folder) that leads outside the model's folder '{realRoot}', to '{real}'; it is refused.", modelPath);
        return real;
    }

    /// <summary>Checks the file actually opened: on Linux the kernel names it (/proc/self/fd), so a link
    /// swapped in between <see cref="ResolveSafely"/> and the open is caught too.</summary>
    public void CheckOpened(FileStream stream, string baseDirectory, string? modelPath, string tensorName)
    {
        if (!OperatingSystem.IsLinux()) return;
        string? opened, realRoot;
        try
        {
            opened = new FileInfo($"/proc/self/fd/{stream.SafeFileHandle.DangerousGetHandle()}").LinkTarget;
            realRoot = RealPath.Resolve(Path.GetFullPath(baseDirectory));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; } // no /proc: the resolve check stands
        if (opened != null && realRoot != null && !RealPath.IsInside(opened, realRoot))
            throw new OnnxModelException(ModelErrorKind.ExternalDataOutsideFolder,
                $"External data location '{Location}' of tensor '{tensorName}' was changed to lead outside the model's folder '{realRoot}' (to '{opened}') while it was read; it is refused.", modelPath);
    }

    /// <summary>Checks that [offset, offset + length) lies in a file of <paramref name="fileLength"/> bytes,
    /// without computing offset + length (2^63-1 plus anything wraps negative and would pass).</summary>
    public void CheckRange(long length, long fileLength, string file, string tensorName, string? modelPath)
    {
        if (Offset > fileLength || length < 0 || length > fileLength - Offset)
            throw new OnnxModelException(ModelErrorKind.ExternalDataOutOfRange,
                $"Tensor '{tensorName}' reads {length} bytes at offset {Offset} of external data file '{file}', which has only {fileLength} bytes. The model and its data file do not belong together, or one of them is damaged.", modelPath);
    }
}
