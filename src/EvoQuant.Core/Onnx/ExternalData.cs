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

    /// <summary>Resolves the location inside <paramref name="baseDirectory"/>. An absolute location, or one
    /// that escapes the folder with '..', is refused: reading it would let a model file read any file on
    /// the machine (a known attack on ONNX loaders).</summary>
    public string ResolveSafely(string baseDirectory, string? modelPath)
    {
        if (Path.IsPathRooted(Location) || Location.Contains(':') || Location.Contains('\0'))
            throw new OnnxModelException(ModelErrorKind.ExternalDataOutsideFolder,
                $"External data location '{Location}' is an absolute path; ONNX requires a path relative to the model's folder.", modelPath);
        string root = Path.GetFullPath(baseDirectory);
        string full = Path.GetFullPath(Path.Combine(root, Location));
        string rootWithSep = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        if (!full.StartsWith(rootWithSep, StringComparison.Ordinal))
            throw new OnnxModelException(ModelErrorKind.ExternalDataOutsideFolder,
                $"External data location '{Location}' points outside the model's folder '{root}'; it is refused.", modelPath);
        return full;
    }
}
