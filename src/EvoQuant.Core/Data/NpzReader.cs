using System.IO.Compression;

namespace EvoQuant.Data;

/// <summary>Reads NumPy .npz archives (zip of .npy, stored or deflated): each member becomes a tensor
/// named after the member without ".npy" (numpy.savez's keyword names).</summary>
public static class NpzReader
{
    public static IReadOnlyList<NamedTensor> Read(string path)
    {
        ZipArchive zip;
        try { zip = ZipFile.OpenRead(path); }
        catch (InvalidDataException e) { throw new SampleFormatException($"not a valid .npz (zip) archive: {e.Message}", path, e); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            throw new SampleFormatException($"cannot open the file: {e.Message}", path, e);
        }
        using (zip)
        {
            var result = new List<NamedTensor>();
            foreach (var entry in zip.Entries)
            {
                if (entry.FullName.EndsWith('/')) continue;
                string name = entry.FullName.EndsWith(".npy", StringComparison.OrdinalIgnoreCase) ? entry.FullName[..^4] : entry.FullName;
                string source = $"{path}:{name}";
                try
                {
                    using var s = entry.Open();
                    result.Add(NpyReader.Read(s, source, name, entry.Length));
                }
                catch (InvalidDataException e) { throw new SampleFormatException($"the archive member is damaged: {e.Message}", source, e); }
            }
            if (result.Count == 0) throw new SampleFormatException("the .npz archive holds no arrays.", path);
            return result;
        }
    }
}
