using EvoQuant.IO;
using EvoQuant.Onnx.Proto;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Onnx;

/// <summary>A model as a file ONNX Runtime can load: the model's own file when it is unchanged, else a
/// temporary one, removed on <see cref="Dispose"/>. Sessions are never built from one serialized protobuf,
/// which cannot exceed 2 GiB and would hold every weight in memory twice: external data stays where it
/// is (the temporary model is written next to it, naming the same locations), and a large model held in
/// memory is written with its own external data, 4 KiB aligned, so ONNX Runtime maps it rather than
/// copying it.</summary>
public sealed class RuntimeModelFile : IDisposable
{
    /// <summary>Inline tensor bytes above which a temporary model gets a data file.</summary>
    internal const long SpillLimit = 64L * 1024 * 1024;

    /// <summary>Tensors at least this large go to the temporary data file.</summary>
    internal const long SpillThreshold = 1024 * 1024;

    private readonly List<string> _temporary = new();
    private string? _temporaryFolder;

    /// <summary>The file to open.</summary>
    public string Path { get; private set; } = "";

    /// <summary>Whether <see cref="Path"/> is a temporary file (false: the model's own file).</summary>
    public bool IsTemporary => _temporary.Count > 0;

    private RuntimeModelFile() { }

    /// <summary>A loadable file for <paramref name="model"/>. External locations are checked again before
    /// ONNX Runtime reads them (inside the model's real folder, in range), as for any read of ours.</summary>
    public static RuntimeModelFile For(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var file = new RuntimeModelFile();
        try
        {
            model.CheckExternalData();
            if (IsOwnFile(model))
            {
                file.Path = model.Path!;
                return file;
            }
            bool hasExternal = model.HasExternalData;
            bool spill = InlineBytes(model) > SpillLimit;
            // Tensors streamed to an output's scratch file live outside the model's folder: copied instead.
            if (hasExternal && model.BaseDirectory != null && model.Streamed == null && file.TryWriteNextToData(model, spill)) return file;
            file.WriteToOwnFolder(model, spill || hasExternal);
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>An ONNX Runtime session over this file.</summary>
    public InferenceSession Open(SessionOptions options) => new(Path, options);

    private static bool IsOwnFile(OnnxModel model)
    {
        if (model.Path == null || model.FileSize <= 0) return false;
        var info = new FileInfo(model.Path);
        return info.Exists && info.Length == model.FileSize;
    }

    private static long InlineBytes(OnnxModel model) =>
        OnnxModel.AllTensors(model.Proto.Graph).Where(t => !TensorData.IsExternal(t)).Sum(t => (long)t.RawData.Length + t.FloatData.Count * 4L);

    private static bool Spills(TensorProto t) => t.RawData.Length >= SpillThreshold || t.FloatData.Count * 4L >= SpillThreshold;

    /// <summary>The temporary model in the model's folder, so its external locations stay valid. False
    /// when the folder cannot be written (then the data is copied into a folder of our own).</summary>
    private bool TryWriteNextToData(OnnxModel model, bool spill)
    {
        string folder = model.BaseDirectory!;
        const string name = "evoquant-runtime.onnx";
        try
        {
            AtomicOutput.SweepStale(folder, name); // left by a process that was killed
            string stem = System.IO.Path.Combine(folder, "." + name + AtomicOutput.TempMarker + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..8]);
            string modelFile = stem + ".onnx";
            string dataName = System.IO.Path.GetFileName(stem) + ".data";
            string? dataFile = spill ? System.IO.Path.Combine(folder, dataName) : null;
            if (dataFile != null) _temporary.Add(dataFile);
            _temporary.Add(modelFile);
            model.WriteFiles(modelFile, dataFile, dataName, t => !TensorData.IsExternal(t) && Spills(t));
            Path = modelFile;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            DeleteTemporary();
            return false;
        }
    }

    /// <summary>The temporary model in a private folder; external tensors (and large inline ones when
    /// <paramref name="withData"/>) are copied into its data file, one tensor at a time.</summary>
    private void WriteToOwnFolder(OnnxModel model, bool withData)
    {
        _temporaryFolder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "evoquant-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..12]);
        AtomicOutput.Guard(_temporaryFolder, () =>
        {
            Directory.CreateDirectory(_temporaryFolder);
            string modelFile = System.IO.Path.Combine(_temporaryFolder, "model.onnx");
            string? dataFile = withData ? modelFile + ".data" : null;
            if (dataFile != null) _temporary.Add(dataFile);
            _temporary.Add(modelFile);
            model.WriteFiles(modelFile, dataFile, "model.onnx.data", t => TensorData.IsExternal(t) || Spills(t));
            Path = modelFile;
        });
    }

    private void DeleteTemporary()
    {
        foreach (string f in _temporary)
        {
            try { if (File.Exists(f)) File.Delete(f); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        _temporary.Clear();
    }

    public void Dispose()
    {
        DeleteTemporary();
        if (_temporaryFolder != null)
        {
            try { Directory.Delete(_temporaryFolder, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            _temporaryFolder = null;
        }
    }
}
