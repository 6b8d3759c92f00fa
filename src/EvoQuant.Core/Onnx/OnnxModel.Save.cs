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
    public long ExternalDataAutoLimit { get; init; } = 1800L * 1024 * 1024;

    /// <summary>Whether the output keeps a side file; <see cref="ForceExternalData"/> means <see cref="ExternalDataChoice.Always"/>.</summary>
    public ExternalDataChoice ExternalData { get; init; } = ExternalDataChoice.Auto;

    /// <summary>The model the written one was made from: with <see cref="ExternalDataChoice.Auto"/>, an
    /// output of a source stored with external data is stored the same way.</summary>
    public OnnxModel? Source { get; init; }

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
    public IReadOnlyList<string> Save(string path, ModelSaveOptions? options = null) => Save(path, options, null);

    /// <summary><see cref="Save(string, ModelSaveOptions?)"/> with <paramref name="checkBeforeCommit"/> run on the written
    /// temporary files before they are renamed: the path of a model file that loads (its external data
    /// included) and whether the tensors went to a side file. When it throws, nothing is left at the output
    /// path. The tensors written (to the side file, or to the one file) are cleared from this model before the
    /// check: the caller must use the written model instead (see <see cref="EvoQuant.Quantization.QuantizationResultFile"/>).</summary>
    internal IReadOnlyList<string> Save(string path, ModelSaveOptions? options, Action<string, bool>? checkBeforeCommit)
    {
        options ??= new ModelSaveOptions();
        string full = System.IO.Path.GetFullPath(path);
        CheckWritable(full, options);
        EnsureValidOutput(full);

        long totalBytes = TensorBytes();
        bool external = options.ExternalData.WantsSideFile(() => options.ForceExternalData
            || totalBytes >= options.ExternalDataAutoLimit || HasExternalData || options.Source?.HasExternalData == true);
        if (!external && totalBytes >= options.ExternalDataAutoLimit)
            throw new OnnxModelException(ModelErrorKind.TooLarge,
                $"The model holds {totalBytes:N0} bytes of tensors, more than one protobuf file can hold (2 GiB); write it with external data.", full);

        using var output = new EvoQuant.IO.AtomicOutput();
        var written = new List<string>();
        string dataName = System.IO.Path.GetFileName(full) + ".data";
        string dataPath = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(full)!, dataName);
        string? dataTemp = null;
        if (external)
        {
            CheckWritable(dataPath, options);
            dataTemp = output.TempFor(dataPath);
            written.Add(dataPath);
        }
        else EvoQuant.IO.AtomicOutput.SweepStale(System.IO.Path.GetDirectoryName(dataPath)!, dataName); // a killed run's streamed weights (StreamedOutputData)
        string modelTemp = output.TempFor(full);
        long threshold = options.ExternalDataThreshold;
        // With a check, the temporary model names the temporary data file first (so it loads as written),
        // then is written again naming the final one; the graph alone is written twice, not the weights.
        string writtenDataName = checkBeforeCommit != null && dataTemp != null ? System.IO.Path.GetFileName(dataTemp) : dataName;
        ModelProto? written0 = null;
        EvoQuant.IO.AtomicOutput.Guard(external ? dataPath : full, () => written0 = WriteFiles(modelTemp, dataTemp, writtenDataName,
            t => TensorData.IsExternal(t) || t.RawData.Length >= threshold || t.FloatData.Count * 4L >= threshold, inlineExternal: !external));
        if (checkBeforeCommit != null)
        {
            // The check's session maps the written weights: the copies in this model go first (whatever
            // still refers to the model, a closure or a frame, would keep them alive), so the caller
            // replaces this model by the written one. A one-file output's written copy shares them: it goes too.
            foreach (var t in AllTensors(Proto.Graph))
                if (!TensorData.IsExternal(t) && t.RawData.Length >= threshold) t.ClearRawData();
            if (!external) written0 = null;
            checkBeforeCommit(modelTemp, external);
            if (writtenDataName != dataName)
            {
                foreach (var entry in AllTensors(written0!.Graph).SelectMany(t => t.ExternalData))
                    if (entry.Key == ExternalDataInfo.LocationKey && entry.Value == writtenDataName) entry.Value = dataName;
                EvoQuant.IO.AtomicOutput.Guard(full, () => WriteProto(modelTemp, written0!, FileMode.Create));
            }
        }
        output.Commit(); // the data file first: the model that names it appears last
        written.Insert(0, full);
        return written;
    }

    /// <summary>This model as <see cref="Save(string, ModelSaveOptions?)"/> wrote it to <paramref name="path"/> (the
    /// paths it returned): the same protobuf, now naming its file, when the file holds all of it (one file, no
    /// tensor external), so a one-file output is not held twice while it would be read back; else the file loaded.</summary>
    internal OnnxModel AsWritten(IReadOnlyList<string> written)
    {
        if (written.Count != 1 || AllTensors(Proto.Graph).Any(TensorData.IsExternal)) return Load(written[0]);
        string full = System.IO.Path.GetFullPath(written[0]);
        return new OnnxModel(Proto, full, System.IO.Path.GetDirectoryName(full), new FileInfo(full).Length) { _graph = _graph };
    }

    /// <summary>Bytes of tensor data the model holds, inline or external.</summary>
    internal long TensorBytes() => AllTensors(Proto.Graph).Sum(t => TensorData.IsExternal(t)
        ? (ExternalDataInfo.Parse(t).Length ?? Math.Max(0, ElementTypes.RawByteCount(t.DataType, TensorData.ElementCount(t))))
        : t.RawData.Length + t.FloatData.Count * 4L);

    /// <summary>Writes the protobuf to <paramref name="modelFile"/>, moving the tensors <paramref name="toData"/>
    /// picks into <paramref name="dataFile"/> (named <paramref name="dataName"/> in their locations), 4 KiB
    /// aligned so the runtime can map them. Tensors are copied one at a time, so memory holds at most one
    /// tensor's bytes beyond the model. External tensors not picked keep their locations: valid only when
    /// <paramref name="modelFile"/> is in <see cref="BaseDirectory"/>.</summary>
    /// <returns>The protobuf written (its tensors naming their data locations).</returns>
    internal ModelProto WriteFiles(string modelFile, string? dataFile, string dataName, Func<TensorProto, bool> toData, bool inlineExternal = false)
    {
        var proto = Proto.Clone();
        if (inlineExternal)
        {
            foreach (var t in AllTensors(proto.Graph).Where(TensorData.IsExternal).ToList())
            {
                byte[] bytes = ReadExternal(t);
                t.ExternalData.Clear();
                t.ClearDataLocation();
                t.RawData = ByteString.CopyFrom(bytes);
            }
        }
        if (dataFile != null)
        {
            using var data = new FileStream(dataFile, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
            foreach (var t in AllTensors(proto.Graph))
            {
                if (!toData(t)) continue;
                if (TensorData.ElementCount(t) == 0 || ElementTypes.BitsPerElement(t.DataType) == 0) continue;
                long offset = (data.Position + 4095) / 4096 * 4096;
                data.SetLength(offset);
                data.Position = offset;
                long length = CopyTensorBytes(t, data);
                TensorData.MarkExternal(t, dataName, offset, length);
            }
        }
        WriteProto(modelFile, proto, FileMode.CreateNew);
        return proto;
    }

    private static void WriteProto(string modelFile, ModelProto proto, FileMode mode)
    {
        using var fs = new FileStream(modelFile, mode, FileAccess.Write, FileShare.None, 1 << 16);
        var cos = new CodedOutputStream(fs);
        proto.WriteTo(cos);
        cos.Flush();
    }

    /// <summary>Appends a tensor's raw bytes to <paramref name="destination"/>; inline bytes are written
    /// from the protobuf without a copy, external ones read one tensor at a time.</summary>
    private long CopyTensorBytes(TensorProto t, Stream destination)
    {
        if (!TensorData.IsExternal(t) && t.HasRawData)
        {
            destination.Write(t.RawData.Span);
            return t.RawData.Length;
        }
        byte[] bytes = GetRawBytes(t);
        destination.Write(bytes);
        return bytes.Length;
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
        if (!inlineExternalData || !HasExternalData) return Proto.ToByteArray();
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
        // The source's own external data files are inputs too (out.onnx.data may be what the source reads),
        // and so are those of the model this one was made from.
        static bool Reads(OnnxModel m, string file) => m.BaseDirectory != null && AllTensors(m.Proto.Graph).Where(TensorData.IsExternal)
            .Select(t => ExternalDataInfo.Parse(t).Location).Distinct()
            .Any(location => RealPath.SameEntry(System.IO.Path.Combine(m.BaseDirectory, location), file));
        if (Reads(this, full) || (options.Source != null && Reads(options.Source, full)))
            throw new OnnxModelException(ModelErrorKind.WouldOverwrite, $"Refusing to overwrite '{full}': the model being written reads its external data from it; choose another output path.", full);
        if (Directory.Exists(full))
            throw new OnnxModelException(ModelErrorKind.IsDirectory, $"Output path '{full}' is a directory.", full);
        if (File.Exists(full) && !options.Overwrite)
            throw new OnnxModelException(ModelErrorKind.WouldOverwrite, $"Output file '{full}' already exists; use -Force to replace it.", full);
    }

}
