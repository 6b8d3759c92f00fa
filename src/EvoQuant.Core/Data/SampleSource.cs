using System.Collections;
using System.Text.RegularExpressions;

namespace EvoQuant.Data;

/// <summary>A sample, or the error that stopped one item from becoming a sample.</summary>
public readonly record struct SampleItem(Sample? Sample, Exception? Error, string Source)
{
    public bool IsError => Error != null;
}

/// <summary>How <see cref="SampleSource"/> reads items.</summary>
public sealed record SampleSourceOptions
{
    /// <summary>When set, .npy files are streamed in chunks of this many rows along axis 0 (for models
    /// whose batch axis is dynamic); otherwise each file is one sample.</summary>
    public int? SplitRows { get; init; }
}

/// <summary>Turns calibration items into a lazy stream of samples. Items may be file paths (.npy, .npz,
/// .pb), folders (searched recursively; a test_data_set_N folder is one sample of its input_K.pb files),
/// <see cref="FileSystemInfo"/>s, <see cref="NamedTensor"/>s, <see cref="Sample"/>s, dictionaries
/// name -> array, or single arrays. Nothing is read before it is needed, and a bad item yields an
/// error entry instead of ending the stream.</summary>
public sealed partial class SampleSource
{
    private readonly IEnumerable<object> _items;
    private readonly SampleSourceOptions _options;

    public SampleSource(IEnumerable<object> items, SampleSourceOptions? options = null)
    {
        _items = items ?? throw new ArgumentNullException(nameof(items));
        _options = options ?? new SampleSourceOptions();
    }

    [GeneratedRegex(@"^test_data_set_\d+$")]
    private static partial Regex TestDataSetName();

    [GeneratedRegex(@"^input_(\d+)\.pb$")]
    private static partial Regex InputPbName();

    /// <summary>Whether a folder is an ONNX test-suite folder (test_data_set_N).</summary>
    public static bool IsTestDataSet(string dir) => TestDataSetName().IsMatch(Path.GetFileName(Path.TrimEndingDirectorySeparator(dir)));

    /// <summary>The samples, in item order (folders in ordinal name order).</summary>
    public IEnumerable<SampleItem> Read()
    {
        int index = 0;
        foreach (var item in _items)
        {
            string itemSource = $"item {index++}";
            foreach (var (source, open) in Leaves(item, itemSource))
            {
                IEnumerator<Sample>? e = null;
                Exception? error = null;
                try { e = open().GetEnumerator(); }
                catch (Exception ex) when (IsSampleError(ex)) { error = ex; }
                if (error != null)
                {
                    yield return new SampleItem(null, error, source);
                    continue;
                }
                using (e)
                {
                    while (true)
                    {
                        Sample? s = null;
                        try
                        {
                            if (!e!.MoveNext()) break;
                            s = e.Current;
                        }
                        catch (Exception ex) when (IsSampleError(ex)) { error = ex; }
                        if (error != null)
                        {
                            yield return new SampleItem(null, error, source);
                            break;
                        }
                        yield return new SampleItem(s, null, s!.Source);
                    }
                }
            }
        }
    }

    private static bool IsSampleError(Exception e) =>
        e is SampleFormatException or IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException or InvalidCastException;

    /// <summary>The readable units an item expands to: (source, lazy reader).</summary>
    private IEnumerable<(string Source, Func<IEnumerable<Sample>> Open)> Leaves(object? item, string itemSource)
    {
        switch (item)
        {
            case null:
                yield return (itemSource, () => throw new SampleFormatException("the item is null.", itemSource));
                break;
            case Sample s:
                yield return (s.Source, () => new[] { s });
                break;
            case NamedTensor t:
                yield return (t.Source ?? itemSource, () => new[] { new Sample(t, t.Source ?? itemSource) });
                break;
            case FileSystemInfo fsi:
                foreach (var leaf in PathLeaves(fsi.FullName)) yield return leaf;
                break;
            case string path:
                foreach (var leaf in PathLeaves(path)) yield return leaf;
                break;
            case IDictionary dict:
                yield return (itemSource, () => new[] { FromDictionary(dict, itemSource) });
                break;
            case Array array:
                yield return (itemSource, () => new[] { new Sample(NamedTensor.FromArray(null, array, itemSource), itemSource) });
                break;
            default:
                yield return (itemSource, () => throw new SampleFormatException(
                    $"items of type {item.GetType().FullName} are not samples; pass file paths, folders, arrays, or a dictionary name -> array.", itemSource));
                break;
        }
    }

    private static Sample FromDictionary(IDictionary dict, string source)
    {
        var tensors = new List<NamedTensor>();
        foreach (DictionaryEntry e in dict)
        {
            string name = e.Key?.ToString() ?? throw new SampleFormatException("a dictionary key is null.", source);
            string where = $"{source}[{name}]";
            tensors.Add(e.Value switch
            {
                NamedTensor t => t.WithName(name),
                Array a => NamedTensor.FromArray(name, a, where),
                null => throw new SampleFormatException($"the value for '{name}' is null.", where),
                var v => throw new SampleFormatException($"the value for '{name}' is a {v.GetType().FullName}, not an array.", where),
            });
        }
        if (tensors.Count == 0) throw new SampleFormatException("the dictionary is empty.", source);
        return new Sample(tensors, source);
    }

    private IEnumerable<(string, Func<IEnumerable<Sample>>)> PathLeaves(string path)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            if (IsTestDataSet(full))
            {
                yield return (full, () => new[] { ReadTestDataSet(full) });
                yield break;
            }
            foreach (var leaf in FolderLeaves(full)) yield return leaf;
            yield break;
        }
        yield return (full, () => ReadFile(full));
    }

    private IEnumerable<(string, Func<IEnumerable<Sample>>)> FolderLeaves(string dir)
    {
        var entries = Directory.EnumerateFileSystemEntries(dir).OrderBy(p => p, StringComparer.Ordinal).ToList();
        foreach (var entry in entries)
        {
            if (Directory.Exists(entry))
            {
                if (IsTestDataSet(entry)) yield return (entry, () => new[] { ReadTestDataSet(entry) });
                else foreach (var leaf in FolderLeaves(entry)) yield return leaf;
            }
            else if (IsSampleFile(entry))
            {
                string file = entry;
                yield return (file, () => ReadFile(file));
            }
        }
    }

    /// <summary>File extensions read as samples when found in a folder.</summary>
    public static bool IsSampleFile(string path) =>
        Path.GetExtension(path).ToLowerInvariant() is ".npy" or ".npz" or ".pb";

    private IEnumerable<Sample> ReadFile(string path)
    {
        if (!File.Exists(path)) throw new SampleFormatException("the file does not exist.", path);
        switch (Path.GetExtension(path).ToLowerInvariant())
        {
            case ".npy":
                if (_options.SplitRows is int rows)
                    return NpyReader.ReadRows(path, rows).Select(t => new Sample(t, t.Source!));
                return new[] { new Sample(NpyReader.Read(path), path) };
            case ".npz":
                return new[] { new Sample(NpzReader.Read(path), path) };
            case ".pb":
                return new[] { new Sample(TensorProtoFile.Read(path), path) };
            default:
                throw new SampleFormatException("unknown sample file type; use .npy, .npz or .pb (ONNX TensorProto).", path);
        }
    }

    /// <summary>One sample from the input_K.pb files of a test_data_set_N folder, ordered by K. Tensors
    /// without a name are tagged with their position so the binder can map them to the K-th input.</summary>
    public static Sample ReadTestDataSet(string dir)
    {
        var inputs = Directory.EnumerateFiles(dir, "input_*.pb")
            .Select(f => (File: f, Match: InputPbName().Match(Path.GetFileName(f))))
            .Where(x => x.Match.Success)
            .OrderBy(x => int.Parse(x.Match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))
            .ToList();
        if (inputs.Count == 0) throw new SampleFormatException("the test_data_set folder has no input_K.pb files.", dir);
        var tensors = inputs.Select(x =>
        {
            var t = TensorProtoFile.Read(x.File);
            return new PositionedTensor(t, int.Parse(x.Match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        }).ToList();
        return new Sample(tensors.Select(p => p.Tensor.Name != null ? p.Tensor : p.Tensor.WithName(PositionalName(p.Position))).ToList(), dir);
    }

    /// <summary>Name given to an unnamed input_K.pb tensor: "#K", which the binder maps to the K-th runtime input.</summary>
    public static string PositionalName(int k) => "#" + k.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private readonly record struct PositionedTensor(NamedTensor Tensor, int Position);
}
