using System.IO.Compression;

namespace EvoQuant.Data;

/// <summary>Writes NumPy .npz archives: one "name.npy" member per tensor, stored (numpy.savez) or
/// deflated (numpy.savez_compressed).</summary>
public static class NpzWriter
{
    public static void Write(string path, IEnumerable<NamedTensor> tensors, bool compress = false)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        using var zip = new ZipArchive(fs, ZipArchiveMode.Create);
        int k = 0;
        foreach (var t in tensors)
        {
            string name = t.Name ?? $"arr_{k}";
            k++;
            var entry = zip.CreateEntry(name + ".npy", compress ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
            using var s = entry.Open();
            NpyWriter.Write(s, t);
        }
    }
}
