using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Rewrite;

/// <summary>Writes the initializers of quantized tensors into one graph, in one naming convention
/// (<see cref="TensorNames"/>): the integer data, its scale and its zero point, each triple once per
/// key, so tensors that share parameters (pass-through outputs, a weight read by several nodes) reuse them.</summary>
internal sealed class InitializerStore
{
    private readonly GraphProto _g;
    private readonly UniqueNames _names;
    private readonly Dictionary<string, StoredTensor> _stored = new(StringComparer.Ordinal);

    private readonly StreamedOutputData? _streamed;

    /// <param name="streamed">Where a replaced tensor goes again when the tensor it replaces was streamed.</param>
    public InitializerStore(GraphProto graph, UniqueNames names, StreamedOutputData? streamed = null)
    {
        _g = graph;
        _names = names;
        _streamed = streamed;
    }

    /// <summary>What was stored under <paramref name="key"/> (usually the source tensor's name).</summary>
    public StoredTensor? Get(string key) => _stored.GetValueOrDefault(key);

    public bool Contains(string key) => _stored.ContainsKey(key);

    /// <summary>Records an entry under a key without writing anything (a tensor that reuses another's initializers).</summary>
    public StoredTensor Remember(string key, StoredTensor stored) => _stored[key] = stored;

    /// <summary>Integer data with its scale and zero point, named after <paramref name="source"/>.
    /// The three names are taken in that order whether or not the zero point is written.</summary>
    /// <param name="paramDims">Shape of scale and zero point; null for [] (one) or [channels] (per axis).</param>
    /// <param name="writeZeroPoint">False leaves the zero point out (an implicit 0); its name is still reserved.</param>
    public StoredTensor AddQuantized(string key, string source, byte[] raw, long[] dims, QuantType type, QuantParams[] ps, int? axis,
        long[]? paramDims = null, bool writeZeroPoint = true)
    {
        string q = _names.Take(TensorNames.Quantized(source));
        string s = _names.Take(TensorNames.Scale(source));
        string z = _names.Take(TensorNames.ZeroPoint(source));
        long[] pd = paramDims ?? ParamDims(ps, axis != null);
        // The initializer wraps the quantized bytes (never changed after quantizing): one copy of a large weight, not two.
        _g.Initializer.Add(TensorData.FromOwnedRaw(q, type.OnnxDataType(), dims, raw));
        _g.Initializer.Add(ScaleTensor(s, ps, pd));
        if (writeZeroPoint) _g.Initializer.Add(ZeroPointTensor(z, ps, pd));
        return _stored[key] = new StoredTensor(q, s, writeZeroPoint ? z : null, ps, axis);
    }

    /// <summary>A quantized constant as <see cref="WeightQuantizer"/> returned it.</summary>
    public StoredTensor AddQuantized(string key, string source, QuantizedTensor qt, bool writeZeroPoint = true) =>
        AddQuantized(key, source, qt.Raw, qt.Dims, qt.Type, qt.Params, qt.Axis, null, writeZeroPoint);

    /// <summary>Scale and zero point of a run-time tensor (one parameter set); the quantized tensor's name is
    /// the caller's (a QuantizeLinear output it names later).</summary>
    public StoredTensor AddParams(string key, string source, QuantParams p)
    {
        string s = _names.Take(TensorNames.Scale(source));
        string z = _names.Take(TensorNames.ZeroPoint(source));
        var ps = new[] { p };
        _g.Initializer.Add(ScaleTensor(s, ps, Array.Empty<long>()));
        _g.Initializer.Add(ZeroPointTensor(z, ps, Array.Empty<long>()));
        return _stored[key] = new StoredTensor("", s, z, ps, null);
    }

    /// <summary>An int32 bias (zero point 0, not written) and, when <paramref name="scales"/> is given, its scale.</summary>
    public StoredTensor AddBias(string key, string source, int[] values, long[] dims, float[]? scales, QuantParams[] ps)
    {
        string q = _names.Take(TensorNames.Quantized(source));
        _g.Initializer.Add(TensorData.FromArray<int>(q, ElementTypes.Int32, dims, values));
        string s = "";
        if (scales != null)
        {
            s = _names.Take(TensorNames.Scale(q));
            _g.Initializer.Add(TensorData.FromFloats(s, scales.Length > 1 ? new long[] { scales.Length } : Array.Empty<long>(), scales));
        }
        return _stored[key] = new StoredTensor(q, s, null, ps, scales is { Length: > 1 } ? 0 : null);
    }

    /// <summary>A float initializer under a new name (a reshaped bias, a bias folded into a fused op).</summary>
    public string AddFloats(string wanted, long[] dims, float[] values)
    {
        string name = _names.Take(wanted);
        _g.Initializer.Add(TensorData.FromFloats(name, dims, values));
        return name;
    }

    /// <summary>Rewrites the data and scale of a stored tensor with new parameters (a weight whose scale grew
    /// so that its bias fits int32): same names, same places in the graph.</summary>
    public void Replace(string key, byte[] raw, QuantParams[] ps)
    {
        var st = _stored[key];
        int qi = IndexOf(st.Quantized), si = IndexOf(st.Scale);
        var old = _g.Initializer[qi];
        _g.Initializer[qi] = TensorData.FromRaw(old.Name, ps[0].Type.OnnxDataType(), old.Dims.ToArray(), raw);
        if (TensorData.IsExternal(old)) _streamed?.Write(_g.Initializer[qi]); // the streamed bytes are stale
        _g.Initializer[si] = ScaleTensor(st.Scale, ps, ParamDims(ps, st.Axis != null));
        _stored[key] = st with { Params = ps };
    }

    private int IndexOf(string name)
    {
        for (int i = 0; i < _g.Initializer.Count; i++) if (_g.Initializer[i].Name == name) return i;
        throw new InvalidOperationException($"Initializer '{name}' is not in the graph.");
    }

    private static long[] ParamDims(QuantParams[] ps, bool perAxis) => perAxis ? new long[] { ps.Length } : Array.Empty<long>();

    public static TensorProto ScaleTensor(string name, QuantParams[] ps, long[] dims) =>
        TensorData.FromFloats(name, dims, ps.Select(p => p.Scale).ToArray());

    public static TensorProto ZeroPointTensor(string name, QuantParams[] ps, long[] dims)
    {
        var type = ps[0].Type;
        return TensorData.FromRaw(name, type.OnnxDataType(), dims, WeightQuantizer.Pack(ps.Select(p => p.ZeroPoint).ToArray(), type));
    }
}
