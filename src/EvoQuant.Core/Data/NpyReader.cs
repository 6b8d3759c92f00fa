namespace EvoQuant.Data;

/// <summary>Reads NumPy .npy files: whole, or streamed in chunks of rows along axis 0 so that a large
/// [N, ...] file never sits in memory at once.</summary>
public static class NpyReader
{
    /// <summary>Reads only the header of a file.</summary>
    public static NpyHeader ReadHeader(string path)
    {
        using var fs = Open(path);
        return NpyHeader.Read(fs, path);
    }

    /// <summary>Reads a whole file; the tensor has no name (a .npy file carries none).</summary>
    public static NamedTensor Read(string path, string? name = null)
    {
        using var fs = Open(path);
        return Read(fs, path, name, fs.Length);
    }

    /// <summary>Reads a whole array from a stream positioned at its magic string.</summary>
    public static NamedTensor Read(Stream stream, string source, string? name = null, long? streamLength = null)
    {
        var header = NpyHeader.Read(stream, source);
        CheckLength(header, source, streamLength);
        var data = TypedArrays.Create(header.ElementType, header.ElementCount);
        ReadData(stream, TypedArrays.AsBytes(data), source);
        return new NamedTensor(name, data, header.Shape, source);
    }

    /// <summary>Streams a file as consecutive chunks of at most <paramref name="rows"/> rows along axis 0.
    /// Only one chunk is in memory at a time. A scalar or 0-D array comes as one chunk.</summary>
    public static IEnumerable<NamedTensor> ReadRows(string path, int rows, string? name = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        using var fs = Open(path);
        var header = NpyHeader.Read(fs, path);
        CheckLength(header, path, fs.Length);
        if (header.Shape.Length == 0)
        {
            var all = TypedArrays.Create(header.ElementType, 1);
            ReadData(fs, TypedArrays.AsBytes(all), path);
            yield return new NamedTensor(name, all, header.Shape, path);
            yield break;
        }
        long total = header.Shape[0];
        long rowElems = total == 0 ? 0 : header.ElementCount / total;
        for (long start = 0; start < total; start += rows)
        {
            long n = Math.Min(rows, total - start);
            var data = TypedArrays.Create(header.ElementType, n * rowElems);
            ReadData(fs, TypedArrays.AsBytes(data), path);
            var shape = (long[])header.Shape.Clone();
            shape[0] = n;
            yield return new NamedTensor(name, data, shape, $"{path}[{start}..{start + n - 1}]");
        }
    }

    private static FileStream Open(string path)
    {
        try { return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            throw new SampleFormatException($"cannot open the file: {e.Message}", path, e);
        }
    }

    private static void CheckLength(NpyHeader h, string source, long? length)
    {
        if (length is long len && len - h.DataOffset < h.DataBytes)
            throw new SampleFormatException($"the file is truncated: shape [{string.Join(",", h.Shape)}] of '{h.Descr}' needs {h.DataBytes} data bytes but only {Math.Max(0, len - h.DataOffset)} follow the header.", source);
    }

    private static void ReadData(Stream s, Span<byte> dst, string source)
    {
        int total = 0;
        while (total < dst.Length)
        {
            int n = s.Read(dst[total..]);
            if (n == 0) throw new SampleFormatException($"the data is truncated: expected {dst.Length} bytes, got {total}.", source);
            total += n;
        }
    }
}
