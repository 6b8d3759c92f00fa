using EvoQuant.Onnx.Proto;
using Google.Protobuf;

namespace EvoQuant.Onnx;

/// <summary>How to write a model.</summary>
public sealed record ModelSaveOptions
{
    /// <summary>Replace an existing output file. The model's own source file is never replaced.</summary>
    public bool Overwrite { get; init; }

    /// <summary>Write tensors to a side file even when the model is small.</summary>
    public bool ForceExternalData { get; init; }

    /// <summary>Tensors at least this large go to the side file when external data is used.</summary>
    public long ExternalDataThreshold { get; init; } = 1024;

    /// <summary>Above this many bytes of tensor data the model is written with external data (a
    /// protobuf cannot exceed 2 GiB; the margin leaves room for the graph).</summary>
    public long ExternalDataAutoLimit { get; init; } = 2L * 1024 * 1024 * 1024 - 64L * 1024 * 1024;

    /// <summary>Paths that must not be written (the inputs of the operation).</summary>
    public IReadOnlyCollection<string> ProtectedPaths { get; init; } = Array.Empty<string>();
}

public sealed partial class OnnxModel
{
    /// <summary>Writes the model atomically (temporary files, then renames; see <see cref="EvoQuant.IO.AtomicOutput"/>). Tensors stored externally in the
    /// source are carried over; large models get a side file named after the output (model.onnx.data).</summary>
    /// <returns>The paths written (the model, and the data file if any).</returns>
    /// <exception cref="OnnxModelException">The output would replace an input or an existing file
    /// (<see cref="ModelErrorKind.WouldOverwrite"/>), or the model is not valid (<see cref="ModelErrorKind.OutputInvalid"/>); nothing is written.</exception>
    /// <exception cref="EvoQuant.IO.OutputNotWritableException">The file system refused the write; nothing is left at the path.</exception>
    public IReadOnlyList<string> Save(string path, ModelSaveOptions? options = null)
    {
        options ??= new ModelSaveOptions();
        string full = System.IO.Path.GetFullPath(path);
        CheckWritable(full, options);
        EnsureValidOutput(full);

        var proto = Proto.Clone();
        var tensors = AllTensors(proto.Graph).ToList();
        long totalBytes = tensors.Sum(t => TensorData.IsExternal(t) ? (ExternalDataInfo.Parse(t).Length ?? 0) : t.RawData.Length + t.FloatData.Count * 4L);
        bool external = options.ForceExternalData || totalBytes >= options.ExternalDataAutoLimit || tensors.Any(TensorData.IsExternal);

        using var output = new EvoQuant.IO.AtomicOutput();
        var written = new List<string>();
        string dataName = System.IO.Path.GetFileName(full) + ".data";
        string dataPath = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(full)!, dataName);
        if (external)
        {
            CheckWritable(dataPath, options);
            string dataTemp = output.TempFor(dataPath);
            EvoQuant.IO.AtomicOutput.Guard(dataPath, () => WriteExternalData(dataTemp, dataName, tensors, options));
            written.Add(dataPath);
        }

        string modelTemp = output.TempFor(full);
        EvoQuant.IO.AtomicOutput.Guard(full, () =>
        {
            using var fs = new FileStream(modelTemp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            var cos = new CodedOutputStream(fs);
            proto.WriteTo(cos);
            cos.Flush();
        });
        output.Commit(); // the data file first: the model that names it appears last
        written.Insert(0, full);
        return written;
    }

    // Moves every large tensor of the (cloned) graph into the data file, 4 KiB aligned so the runtime can map it.
    private void WriteExternalData(string dataTemp, string dataName, List<TensorProto> tensors, ModelSaveOptions options)
    {
        using var data = new FileStream(dataTemp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        foreach (var t in tensors)
        {
            bool isExternal = TensorData.IsExternal(t);
            if (!isExternal && t.RawData.Length < options.ExternalDataThreshold && t.FloatData.Count * 4L < options.ExternalDataThreshold) continue;
            if (TensorData.ElementCount(t) == 0 || ElementTypes.BitsPerElement(t.DataType) == 0) continue;
            byte[] bytes = GetRawBytes(t);
            long offset = (data.Position + 4095) / 4096 * 4096;
            data.SetLength(offset);
            data.Position = offset;
            data.Write(bytes);
            t.ClearRawData();
            t.FloatData.Clear(); t.Int32Data.Clear(); t.Int64Data.Clear(); t.DoubleData.Clear(); t.Uint64Data.Clear();
            t.ExternalData.Clear();
            t.ExternalData.Add(new StringStringEntryProto { Key = ExternalDataInfo.LocationKey, Value = dataName });
            t.ExternalData.Add(new StringStringEntryProto { Key = ExternalDataInfo.OffsetKey, Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            t.ExternalData.Add(new StringStringEntryProto { Key = ExternalDataInfo.LengthKey, Value = bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            t.DataLocation = TensorProto.Types.DataLocation.External;
        }
    }

    /// <summary>Refuses to write a model that would not load back: the rules <see cref="Load(string)"/>
    /// checks are checked before any byte is written, so an invalid model never reaches the output path.</summary>
    private void EnsureValidOutput(string full)
    {
        try { Validate(); }
        catch (OnnxModelException e) when (e.Kind is ModelErrorKind.Invalid)
        {
            throw new OnnxModelException(ModelErrorKind.OutputInvalid,
                $"The model to be written to '{full}' is not valid, so nothing was written: {e.Message}", full, e);
        }
    }

    /// <summary>The model serialized to bytes (for ONNX Runtime sessions). External tensors are inlined,
    /// so this is only for models under 2 GiB.</summary>
    public byte[] ToBytes(bool inlineExternalData = true)
    {
        if (!inlineExternalData || !AllTensors(Proto.Graph).Any(TensorData.IsExternal)) return Proto.ToByteArray();
        var proto = Proto.Clone();
        foreach (var t in AllTensors(proto.Graph).Where(TensorData.IsExternal).ToList())
        {
            byte[] bytes = ReadExternal(t);
            t.ExternalData.Clear();
            t.ClearDataLocation();
            t.RawData = ByteString.CopyFrom(bytes);
        }
        return proto.ToByteArray();
    }

    private void CheckWritable(string full, ModelSaveOptions options)
    {
        // Folders resolved: `linked/in.onnx` names the input when `linked` is a link to its folder.
        bool isInput = (Path != null && RealPath.SameEntry(Path, full))
            || options.ProtectedPaths.Any(p => RealPath.SameEntry(p, full));
        if (isInput)
            throw new OnnxModelException(ModelErrorKind.WouldOverwrite, $"Refusing to overwrite the input model '{full}'; choose another output path.", full);
        // The source's own external data files are inputs too (out.onnx.data may be what the source reads).
        if (BaseDirectory != null && AllTensors(Proto.Graph).Where(TensorData.IsExternal)
                .Select(t => ExternalDataInfo.Parse(t).Location).Distinct()
                .Any(location => RealPath.SameEntry(System.IO.Path.Combine(BaseDirectory, location), full)))
            throw new OnnxModelException(ModelErrorKind.WouldOverwrite, $"Refusing to overwrite '{full}': the model being written reads its external data from it; choose another output path.", full);
        if (Directory.Exists(full))
            throw new OnnxModelException(ModelErrorKind.IsDirectory, $"Output path '{full}' is a directory.", full);
        if (File.Exists(full) && !options.Overwrite)
            throw new OnnxModelException(ModelErrorKind.WouldOverwrite, $"Output file '{full}' already exists; use -Force to replace it.", full);
    }

}
