using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Provenance;

namespace EvoQuant.Quantization.WeightOnly;

/// <summary>Weight-only quantization of the main graph: each selected MatMul, Gemm and Gather whose declarer
/// accepts it is replaced by its emitter's nodes (MatMulNBits, GatherBlockQuantized, or a block-wise
/// DequantizeLinear before the op). Weights are read, quantized and written one at a time, so a model with
/// external data is never held as floats all at once. Works on a copy.</summary>
internal sealed class WeightOnlyRewriter : Rewrite.GraphRewrite
{
    private readonly NodeSelector _selector;
    private readonly List<QuantizedNode> _quantized = new();
    private readonly List<SkippedNode> _skipped = new();
    private readonly List<WeightOnlyLayer> _layers = new();
    private readonly Dictionary<string, object> _cache = new(StringComparer.Ordinal);
    private readonly List<WildcardPattern> _eightBit;

    public WeightOnlyRewriter(OnnxModel model, QuantizationOptions options, OpQuantizerRegistry registry, List<string> warnings)
        : base(model, options, warnings)
    {
        Context = new QuantizationContext(model, options);
        _selector = new NodeSelector(options, registry);
        Form = WeightOnlyDefaults.FormOf(options);
        _eightBit = options.WeightOnly.EightBitNodes.Select(p => new WildcardPattern(p)).ToList();
    }

    /// <summary>What declarers may ask about the model (the main graph of the source).</summary>
    public QuantizationContext Context { get; }
    public WeightOnlyOptions WeightOnly => Options.WeightOnly;
    public WeightOnlyForm Form { get; }

    public IReadOnlyList<QuantizedNode> QuantizedNodes => _quantized;
    public IReadOnlyList<SkippedNode> Skipped => _skipped;
    public IReadOnlyList<WeightOnlyLayer> Layers => _layers;

    public ModelProto Rewrite(CancellationToken ct)
    {
        var chosen = WeightOnlySelection.Select(Graph.Node, Context, _selector, Skip, ct);

        var replacements = new Dictionary<NodeProto, List<NodeProto>>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < chosen.Count; i++)
        {
            ct.ThrowIfCancellationRequested();
            var (node, emitter) = chosen[i];
            bool ends = WeightOnly.EightBitFirstAndLast && (i == 0 || i == chosen.Count - 1);
            int bits = ends || _eightBit.Any(p => p.IsMatch(node.Name)) ? 8 : WeightOnly.Bits;
            var nodes = emitter.TryEmit(node, this, bits, out string? reason);
            StreamNewInitializers();
            if (nodes == null)
            {
                Skip(node, reason ?? "it has no weight-only form.");
                continue;
            }
            replacements[node] = nodes;
            _quantized.Add(new QuantizedNode(QuantizationPlanner.DisplayName(node), node.OpType));
            RecordNode(node, NodeOutcome.Quantized, nodes.Select(NodeKey));
        }

        var result = new List<NodeProto>(Graph.Node.Count);
        foreach (var node in Graph.Node) result.AddRange(replacements.TryGetValue(node, out var r) ? r : new List<NodeProto> { node });
        Graph.Node.Clear();
        Graph.Node.AddRange(result);
        if (Form == WeightOnlyForm.DequantizeLinear && replacements.Count > 0) Opset21Upgrade.Raise(Proto, Names, Warnings);
        GraphEdits.RemoveReplacedModelWide(Graph, Replaced);
        return Finish();
    }

    /// <summary>The float value of a constant of the source model.</summary>
    public float[] Floats(string tensor)
    {
        var t = Context.Constant(tensor)!;
        // Each weight becomes garbage once quantized; external reads already pace full collections by the bytes
        // read, inline weights (a model in one file) are paced the same way, or dead copies pile up to 2-3x the model.
        if (!Onnx.TensorData.IsExternal(t)) Onnx.LargeTensorReads.BeforeRead(Onnx.TensorData.ElementCount(t) * sizeof(float));
        return Model.GetFloats(t);
    }

    /// <summary>A float constant of the source stored inline, as a view of its bytes (no copy); false when it
    /// must be read by <see cref="Floats"/>.</summary>
    public bool TryInlineFloats(string tensor, out ReadOnlySpan<float> values) => Model.TryGetInlineFloats(Context.Constant(tensor)!, out values);

    public long[] Dims(string tensor) => Context.Constant(tensor)!.Dims.ToArray();

    /// <summary>A value computed once per key (a weight read by several nodes is quantized and stored once).</summary>
    public T Once<T>(string key, Func<T> make) where T : class
    {
        if (_cache.TryGetValue(key, out var v)) return (T)v;
        var made = make();
        _cache[key] = made;
        return made;
    }

    /// <summary>Quantizes a [K, N] row-major weight with the options' method, handing it the statistics of
    /// <paramref name="activation"/> (the node's input; null for an embedding table) when it needs them,
    /// and records the layer's error.</summary>
    /// <exception cref="MissingInputStatisticsException">The method needs statistics and none were given for the input.</exception>
    public BlockQuantizedMatrix Quantize(NodeProto node, string weight, ReadOnlySpan<float> kn, int rows, int columns, int bits, string? activation)
    {
        for (int i = 0; i < kn.Length; i++)
            if (!float.IsFinite(kn[i])) throw new InvalidWeightException(weight, $"holds {kn[i]} at element {i}");
        var method = MethodFor(activation);
        InputStatistics? statistics = null;
        if (method.NeedsInputStatistics && activation != null)
        {
            if (WeightOnly.InputStatistics?.GetValueOrDefault(activation) is not { } s)
                throw new MissingInputStatisticsException(method.Name, activation, node.Name);
            if (s.Channels != rows)
                throw new QuantizationException($"The input statistics of '{activation}' have {s.Channels} channels; the weight '{weight}' of node '{node.Name}' has K = {rows}.", node.Name);
            statistics = s;
        }
        var spec = WeightOnly.SpecFor(bits);
        var m = method.Quantize(kn, rows, columns, spec, statistics);
        if (m.Rows != rows || m.Columns != columns || m.Spec != spec)
            throw new QuantizationException($"The weight-only method {method.Name} returned a [{m.Rows}, {m.Columns}] {m.Spec} matrix for the [{rows}, {columns}] {spec} weight '{weight}'.", node.Name);
        return m;
    }

    /// <summary>The method for a weight: the options' own, except that a method needing input statistics
    /// rounds embedding tables (<paramref name="activation"/> null: their input is an index, there are no
    /// activations to weigh the error by) to nearest.</summary>
    private IWeightOnlyMethod MethodFor(string? activation) =>
        WeightOnly.Method.NeedsInputStatistics && activation == null ? RoundToNearestMethod.Instance : WeightOnly.Method;

    /// <summary>Records a quantized weight's error against its float values and its sizes.</summary>
    public void RecordLayer(NodeProto node, string weight, ReadOnlySpan<float> kn, BlockQuantizedMatrix m, long bytesAfter, string? activation)
    {
        var errors = new ErrorAccumulator();
        int k = m.Rows, n = m.Columns;
        // Row by row: the float weight is read in place, in its own order; only one row is dequantized at a time.
        var candidate = new float[n];
        for (int r = 0; r < k; r++)
        {
            for (int c = 0; c < n; c++) candidate[c] = m.ValueAt(r, c);
            errors.Add(kn.Slice(r * n, n), candidate);
        }
        var e = errors.Summary;
        _layers.Add(new WeightOnlyLayer(QuantizationPlanner.DisplayName(node), node.OpType, weight, k, n, m.Spec.Bits, m.Spec.BlockSize, m.Spec.Symmetric,
            MethodFor(activation).Name, Form, e.Sqnr, e.Mse, (long)k * n * sizeof(float), bytesAfter));
    }

    /// <summary>Adds an initializer to the main graph, under a new name derived from <paramref name="wanted"/>.</summary>
    public string AddInitializer(string wanted, int dataType, long[] dims, byte[] raw)
    {
        string name = Names.Take(wanted);
        Graph.Initializer.Add(TensorData.FromOwnedRaw(name, dataType, dims, raw));
        return name;
    }

    public string AddFloats(string wanted, long[] dims, ReadOnlySpan<float> values)
    {
        string name = Names.Take(wanted);
        Graph.Initializer.Add(TensorData.FromFloats(name, dims, values));
        return name;
    }

    public void MarkReplaced(string tensor) => Replaced.Add(tensor);

    private void Skip(NodeProto node, string reason)
    {
        _skipped.Add(new SkippedNode(QuantizationPlanner.DisplayName(node), node.OpType, reason));
        RecordNode(node, NodeOutcome.Float, new[] { NodeKey(node) }, reason);
    }
}
