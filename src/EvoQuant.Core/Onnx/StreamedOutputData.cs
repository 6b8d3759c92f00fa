using EvoQuant.IO;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Onnx;

/// <summary>The large tensors of a model being made, written to disk as they are made rather than held
/// in memory until the model is saved (issue 21: a model larger than memory). A rewrite hands each new
/// initializer to <see cref="Write"/>: its bytes go to a scratch file next to the output and the tensor
/// keeps only its location, offset and length; the model reads them back from there like any external
/// data, and <see cref="OnnxModel.Save(string, ModelSaveOptions?)"/> copies them into the output's data
/// file one tensor at a time, in the graph's order, so the output is byte for byte the one written from
/// memory. (Written straight into the output's data file they would come before the float tensors the
/// model keeps, which lead its data file, and which of those stay is known only when the rewrite ends.)
/// The scratch file is a temporary of <see cref="AtomicOutput"/> for the output's data file: removed on
/// <see cref="Dispose"/>, and after a killed run by the next write to the same output.</summary>
public sealed class StreamedOutputData : IDisposable
{
    /// <summary>Tensors smaller than this stay in memory (scales, zero points, small biases): their bytes
    /// are few, and a tensor under the save's threshold must stay inline to keep the output the same.</summary>
    internal const long MinimumBytes = 64 * 1024;

    private readonly AtomicOutput _scratch = new();
    private long _length;

    private StreamedOutputData(string dataPath)
    {
        Path = _scratch.TempFor(dataPath);
        Location = System.IO.Path.GetFileName(Path);
    }

    /// <summary>The scratch file.</summary>
    public string Path { get; }

    /// <summary>The location the streamed tensors name (the scratch file's name).</summary>
    internal string Location { get; }

    /// <summary>Bytes written so far.</summary>
    public long Length => _length;

    /// <summary>A scratch file for the quantized model to be written to <paramref name="outputPath"/>, or null
    /// when that output keeps every tensor inline (<see cref="ExternalDataChoice.Never"/>; Auto for a source
    /// without external data): then streaming would change the output. Same policy as the save's.</summary>
    /// <exception cref="OutputNotWritableException">The output's folder cannot be created.</exception>
    public static StreamedOutputData? For(string outputPath, OnnxModel source, ExternalDataChoice choice)
    {
        ArgumentNullException.ThrowIfNull(source);
        bool external = choice.WantsSideFile(() => source.HasExternalData);
        return external ? new StreamedOutputData(System.IO.Path.GetFullPath(outputPath) + ".data") : null;
    }

    /// <summary>Whether <paramref name="e"/> names this scratch file.</summary>
    internal bool Holds(ExternalDataInfo e) => e.Location == Location;

    /// <summary>Appends a new tensor's bytes to the scratch file and leaves it naming them; tensors that are
    /// small, already external, or not in raw_data are left as they are.</summary>
    internal void Write(TensorProto t)
    {
        if (TensorData.IsExternal(t) || !t.HasRawData || t.RawData.Length < MinimumBytes) return;
        long offset = _length;
        AtomicOutput.Guard(Path, () =>
        {
            using var file = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
            file.Write(t.RawData.Span);
        });
        long length = t.RawData.Length;
        _length += length;
        TensorData.MarkExternal(t, Location, offset, length);
    }

    public void Dispose() => _scratch.Dispose(); // never committed: the file goes
}
