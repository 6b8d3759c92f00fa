using EvoQuant.Onnx.Proto;
using Google.Protobuf;

namespace EvoQuant.Onnx;

/// <summary>An ONNX model held in memory: the protobuf, where it came from, and views over it.
/// Treat a model as a value: transformations produce new models (<see cref="With"/>), never mutate one
/// that a caller holds.</summary>
public sealed partial class OnnxModel
{
    private GraphView? _graph;

    /// <summary>The underlying protobuf. Do not mutate it on a model you did not create.</summary>
    public ModelProto Proto { get; }

    /// <summary>Full path of the file the model was loaded from (null for in-memory models).</summary>
    public string? Path { get; }

    /// <summary>Folder that external-data locations are relative to.</summary>
    public string? BaseDirectory { get; }

    /// <summary>Size of the model file in bytes (external data files not included); 0 when in memory.</summary>
    public long FileSize { get; }

    public OnnxModel(ModelProto proto, string? path = null, string? baseDirectory = null, long fileSize = 0)
    {
        Proto = proto ?? throw new ArgumentNullException(nameof(proto));
        Path = path;
        BaseDirectory = baseDirectory ?? (path != null ? System.IO.Path.GetDirectoryName(path) : null);
        FileSize = fileSize;
    }

    /// <summary>Topological graph view: producers, consumers, initializers (incl. Constant nodes).</summary>
    public GraphView Graph => _graph ??= new GraphView(Proto.Graph);

    /// <summary>Where the tensors a rewrite streamed to disk are (see <see cref="StreamedOutputData"/>); null for
    /// a model whose external data all lies in <see cref="BaseDirectory"/>.</summary>
    internal StreamedOutputData? Streamed { get; private init; }

    /// <summary>A new model with the given protobuf, remembering where its external data can be read.</summary>
    public OnnxModel With(ModelProto proto) => With(proto, null);

    /// <summary><see cref="With(ModelProto)"/> for a rewrite that streamed tensors of <paramref name="proto"/> to <paramref name="streamed"/>.</summary>
    internal OnnxModel With(ModelProto proto, StreamedOutputData? streamed) => new(proto, null, BaseDirectory) { Streamed = streamed ?? Streamed };

    /// <summary>Whether any tensor keeps its bytes in a side file.</summary>
    internal bool HasExternalData => AllTensors(Proto.Graph).Any(TensorData.IsExternal);

    /// <summary>This model for ONNX Runtime to run: initializers of the main graph that no node (nor any
    /// subgraph) reads and that are neither graph inputs nor outputs are left out, since they cannot change
    /// a result and ONNX Runtime drops them one at a time (100,000 of them: over a minute per session).
    /// The model itself when there are none (no copy).</summary>
    internal OnnxModel ForRuntime()
    {
        var g = Proto.Graph;
        if (g == null || g.Initializer.Count == 0) return this;
        var read = new HashSet<string>(StringComparer.Ordinal);
        foreach (var graph in GraphView.WithSubgraphs(g))
        {
            foreach (var n in graph.Node) foreach (var i in n.Input) read.Add(i);
            foreach (var o in graph.Output) read.Add(o.Name);
            foreach (var i in graph.Input) read.Add(i.Name);
        }
        if (g.Initializer.All(t => read.Contains(t.Name))) return this;
        var proto = Proto.Clone();
        proto.Graph.Initializer.Clear();
        proto.Graph.Initializer.AddRange(g.Initializer.Where(t => read.Contains(t.Name)));
        return With(proto);
    }

    /// <summary>A deep copy of the protobuf, for a transformation to edit.</summary>
    public ModelProto CloneProto() => Proto.Clone();

    // ---- loading ----

    /// <summary>Loads and validates a model file. External data stays on disk and is read on demand.</summary>
    public static OnnxModel Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new OnnxModelException(ModelErrorKind.IsDirectory, $"'{full}' is a directory, not an ONNX model file.", full);
        if (!File.Exists(full))
            throw new OnnxModelException(ModelErrorKind.NotFound, $"Model file '{full}' does not exist.", full);
        var info = new FileInfo(full);
        if (info.Length == 0)
            throw new OnnxModelException(ModelErrorKind.Empty, $"Model file '{full}' is empty.", full);
        if (info.Length >= int.MaxValue)
            throw new OnnxModelException(ModelErrorKind.TooLarge,
                $"Model file '{full}' is {info.Length} bytes; a protobuf cannot exceed 2 GiB. Save such models with external data.", full);

        ModelProto proto;
        using (var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
            proto = Parse(stream, full);
        var model = new OnnxModel(proto, full, System.IO.Path.GetDirectoryName(full), info.Length);
        model.Validate();
        return model;
    }

    /// <summary>Loads a model from a stream; external data (if any) is resolved against <paramref name="baseDirectory"/>.</summary>
    public static OnnxModel Load(Stream stream, string? baseDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var model = new OnnxModel(Parse(stream, null), null, baseDirectory, stream.CanSeek ? stream.Length : 0);
        model.Validate();
        return model;
    }

    /// <summary>Loads a model from its serialized bytes.</summary>
    public static OnnxModel Load(byte[] bytes, string? baseDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length == 0) throw new OnnxModelException(ModelErrorKind.Empty, "The model is empty (0 bytes).");
        using var ms = new MemoryStream(bytes, writable: false);
        return Load(ms, baseDirectory);
    }

    private static ModelProto Parse(Stream stream, string? path)
    {
        try
        {
            var input = new CodedInputStream(stream);
            var proto = ModelProto.Parser.ParseFrom(input);
            return proto;
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidOperationException or ArgumentException or OverflowException or IOException or IndexOutOfRangeException)
        {
            string where = path != null ? $"'{path}'" : "The data";
            throw new OnnxModelException(ModelErrorKind.Corrupt,
                $"{where} is not a valid ONNX model: the protobuf cannot be parsed ({e.Message}). The file may be truncated or not an ONNX model.", path, e);
        }
    }

    /// <summary>Checks what a parser accepts but a model must not have: no graph, a tensor whose size
    /// disagrees with its data, external data outside the folder or beyond its file, a cycle.</summary>
    private void Validate()
    {
        if (Proto.Graph == null || (Proto.Graph.Node.Count == 0 && Proto.Graph.Output.Count == 0))
            throw new OnnxModelException(ModelErrorKind.Invalid,
                $"{Describe()} has no graph; it is not an ONNX model (or the file is damaged).", Path);
        if (Proto.IrVersion <= 0 || Proto.IrVersion > 64)
            throw new OnnxModelException(ModelErrorKind.Invalid, $"{Describe()} has IR version {Proto.IrVersion}, which is not a valid ONNX IR version.", Path);

        foreach (var t in AllTensors(Proto.Graph))
        {
            string? mismatch = TensorData.DescribeSizeMismatch(t);
            if (mismatch != null)
                throw new OnnxModelException(ModelErrorKind.Invalid, $"Tensor '{t.Name}' in {Describe()} is inconsistent: {mismatch}.", Path);
            if (TensorData.IsExternal(t)) CheckExternal(t);
        }

        try { _ = Graph.Nodes; }
        catch (InvalidOperationException e)
        {
            throw new OnnxModelException(ModelErrorKind.Invalid, $"{Describe()}: {e.Message}", Path, e);
        }
    }

    /// <summary>Checks every external location again (resolved, inside the real folder, in range): done
    /// right before ONNX Runtime is handed a file that names them, since the folder may have changed.</summary>
    internal void CheckExternalData()
    {
        foreach (var t in AllTensors(Proto.Graph))
            if (TensorData.IsExternal(t)) CheckExternal(t);
    }

    private void CheckExternal(TensorProto t)
    {
        var ext = ExternalDataInfo.Parse(t);
        string file = ExternalFile(ext, t.Name);
        long fileLength = new FileInfo(file).Length;
        long expected;
        try { expected = ElementTypes.RawByteCount(t.DataType, TensorData.ElementCount(t)); }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        {
            throw new OnnxModelException(ModelErrorKind.Invalid, $"Tensor '{t.Name}' has dims [{string.Join(",", t.Dims)}], which are not valid.", Path, e);
        }
        long length = ext.Length ?? (expected >= 0 ? expected : Math.Max(0, fileLength - ext.Offset));
        if (expected >= 0 && length != expected)
            throw new OnnxModelException(ModelErrorKind.Invalid, $"Tensor '{t.Name}' declares external length {length} but its dims need {expected} bytes.", Path);
        ext.CheckRange(length, fileLength, file, t.Name, Path);
        if (length > Array.MaxLength)
            throw new OnnxModelException(ModelErrorKind.TooLarge, $"Tensor '{t.Name}' holds {length} bytes of external data; more than one tensor can hold in memory.", Path);
    }

    /// <summary>Reads the bytes of an external tensor (validated at load). The location is resolved and the
    /// range checked again: the folder may have changed since the model was loaded.</summary>
    public byte[] ReadExternal(TensorProto t)
    {
        byte[]? bytes = null;
        ReadExternal(t, (fs, length) =>
        {
            bytes = new byte[length];
            fs.ReadExactly(bytes);
        });
        return bytes!;
    }

    /// <summary>Opens an external tensor's file at its offset (checked as at load) and lets <paramref name="read"/>
    /// read its <c>length</c> bytes: a float tensor is read straight into its float array, one large
    /// allocation per tensor instead of two (a big model's weights are read one after another).</summary>
    private void ReadExternal(TensorProto t, Action<FileStream, long> read)
    {
        var ext = ExternalDataInfo.Parse(t);
        string file = ExternalFile(ext, t.Name);
        long expected = ElementTypes.RawByteCount(t.DataType, TensorData.ElementCount(t));
        long length = ext.Length ?? expected;
        try
        {
            using var fs = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (BaseDirectory != null && !StreamedHolds(ext)) ext.CheckOpened(fs, BaseDirectory, Path, t.Name);
            ext.CheckRange(length, fs.Length, file, t.Name, Path);
            if (length > Array.MaxLength)
                throw new OnnxModelException(ModelErrorKind.TooLarge, $"Tensor '{t.Name}' holds {length} bytes of external data; more than one tensor can hold in memory.", Path);
            fs.Seek(ext.Offset, SeekOrigin.Begin);
            LargeTensorReads.BeforeRead(length);
            read(fs, length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OnnxModelException(ModelErrorKind.ExternalDataMissing,
                $"External data file '{file}' of tensor '{t.Name}' cannot be read: {e.Message}", Path, e);
        }
    }

    /// <summary>The file an external tensor's bytes are in: a streamed output's scratch file, or its location
    /// resolved safely inside <see cref="BaseDirectory"/>.</summary>
    private string ExternalFile(ExternalDataInfo ext, string tensorName)
    {
        if (StreamedHolds(ext)) return Streamed!.Path;
        if (BaseDirectory == null)
            throw new OnnxModelException(ModelErrorKind.ExternalDataMissing, $"Tensor '{tensorName}' has external data but the model was not loaded from a folder.", Path);
        return ext.ResolveSafely(BaseDirectory, Path, tensorName);
    }

    private bool StreamedHolds(ExternalDataInfo ext) => Streamed?.Holds(ext) == true;

    private float[] ReadExternalFloats(TensorProto t)
    {
        float[]? values = null;
        ReadExternal(t, (fs, length) =>
        {
            // The length matches the dims (checked at load and by ReadExternal's callers' conversions).
            if (length % sizeof(float) != 0)
                throw new OnnxModelException(ModelErrorKind.Invalid, $"Tensor '{t.Name}' holds {length} bytes of float32 data, not a whole number of values.", Path);
            values = GC.AllocateUninitializedArray<float>((int)(length / sizeof(float))); // every byte is read over
            fs.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        });
        return values!;
    }

    /// <summary>Raw little-endian bytes of a tensor of this model, wherever they are stored.</summary>
    public byte[] GetRawBytes(TensorProto t) => Observed(t, TensorData.GetRawBytes(t, ReadExternal));

    /// <summary>A tensor of this model as float32 values, wherever its data is stored.</summary>
    public float[] GetFloats(TensorProto t) => Observed(t, TensorData.IsExternal(t) && t.DataType == ElementTypes.Float
        ? ReadExternalFloats(t)
        : TensorData.ToFloatArray(t, ReadExternal));

    /// <summary>A float32 tensor of this model stored inline in raw_data, as a view of those bytes (no copy): a
    /// pass over a one-file model's weights reads each where it lies. False for any other storage (external
    /// data, typed fields, other element types), which <see cref="GetFloats"/> reads.</summary>
    public bool TryGetInlineFloats(TensorProto t, out ReadOnlySpan<float> values)
    {
        values = default;
        if (TensorData.IsExternal(t) || !t.HasRawData || t.DataType != ElementTypes.Float || !BitConverter.IsLittleEndian) return false;
        values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span);
        Observed(t, 0);
        return true;
    }

    /// <summary>Every tensor a graph holds: initializers, Constant-node values, and those of subgraphs.</summary>
    internal static IEnumerable<TensorProto> AllTensors(GraphProto g)
    {
        foreach (var t in g.Initializer) yield return t;
        foreach (var s in g.SparseInitializer)
        {
            if (s.Values != null) yield return s.Values;
        }
        foreach (var n in g.Node)
        {
            foreach (var a in n.Attribute)
            {
                if (a.T != null) yield return a.T;
                foreach (var t in a.Tensors) yield return t;
                if (a.G != null) foreach (var t in AllTensors(a.G)) yield return t;
                foreach (var sg in a.Graphs) foreach (var t in AllTensors(sg)) yield return t;
            }
        }
    }

    private string Describe() => Path != null ? $"Model '{Path}'" : "The model";

    public override string ToString() => Path ?? Proto.Graph?.Name ?? "(in-memory model)";
}
