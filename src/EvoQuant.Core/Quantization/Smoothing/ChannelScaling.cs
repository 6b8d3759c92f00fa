using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Smoothing;

/// <summary>The graph being smoothed, as <see cref="IChannelScaleAbsorber"/>s see it: its constants, new
/// constants written once under unique names, and the tensors whose values changed by a per-channel factor
/// (so calibrated ranges of those can be rescaled).</summary>
public sealed class ChannelScaling
{
    private readonly OnnxModel _model;
    private readonly GraphProto _graph;
    private readonly UniqueNames _names;
    private readonly Dictionary<string, float[]> _scaled = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TensorProto> _added = new(StringComparer.Ordinal);

    internal ChannelScaling(OnnxModel model, GraphProto graph, OpQuantizerRegistry registry)
    {
        _model = model;
        _graph = graph;
        View = new GraphView(graph);
        Registry = registry;
        _names = new UniqueNames(GraphEdits.AllNames(graph));
    }

    public GraphView View { get; }
    public OpQuantizerRegistry Registry { get; }

    /// <summary>Constants no node reads once smoothing is done are removed if they are in here.</summary>
    internal HashSet<string> Replaced { get; } = new(StringComparer.Ordinal);

    /// <summary>Tensors whose values were multiplied per channel, with the factors.</summary>
    public IReadOnlyDictionary<string, float[]> Scaled => _scaled;

    /// <summary>The float values of a constant input, or null when it is not a float constant.</summary>
    public float[]? Floats(string tensor) =>
        Constant(tensor) is { DataType: ElementTypes.Float } t ? _model.GetFloats(t) : null;

    /// <summary>The dimensions of a constant, or null.</summary>
    public long[]? Dims(string tensor) => Constant(tensor)?.Dims.ToArray();

    /// <summary>A constant of the graph, including those smoothing wrote (the view knows only the original ones).</summary>
    public TensorProto? Constant(string tensor) => _added.GetValueOrDefault(tensor) ?? View.GetConstant(tensor);

    /// <summary>The absorber of the node that writes <paramref name="tensor"/>, when it is the tensor's only
    /// writer of changed values: the tensor is no graph output and its one consumer is <paramref name="reader"/>.</summary>
    public (NodeProto Node, IChannelScaleAbsorber Absorber)? SoleProducer(string tensor, NodeProto reader)
    {
        if (View.IsGraphOutput(tensor) || View.Consumers(tensor).Count != 1 || !ReferenceEquals(View.Consumers(tensor)[0], reader)) return null;
        return View.Producer(tensor) is { } p && string.IsNullOrEmpty(p.Domain) && Registry.ScaleAbsorber(p.OpType) is { } a && p.Output[0] == tensor ? (p, a) : null;
    }

    /// <summary>Points <paramref name="node"/>'s input <paramref name="index"/> at a new float constant.</summary>
    public void ReplaceInput(NodeProto node, int index, long[] dims, float[] values, string suffix = "_smoothed")
    {
        string old = node.Input[index];
        string name = _names.Take(old + suffix);
        var t = TensorData.FromFloats(name, dims, values);
        _graph.Initializer.Add(t);
        _added[name] = t;
        Replaced.Add(old);
        node.Input[index] = name;
    }

    internal string TakeName(string wanted) => _names.Take(wanted);

    /// <summary>Adds a new constant (named through <see cref="TakeName"/>) to the graph; its name.</summary>
    public string AddConstant(TensorProto tensor)
    {
        _graph.Initializer.Add(tensor);
        _added[tensor.Name] = tensor;
        return tensor.Name;
    }

    /// <summary>Records that <paramref name="tensor"/>'s channels were multiplied by <paramref name="factors"/>.</summary>
    public void MarkScaled(string tensor, float[] factors) => _scaled[tensor] = factors;

    /// <summary>A constant of one value per channel or one for all, as a vector of <paramref name="channels"/>;
    /// null for other shapes (a constant broadcast on other axes is not per channel).</summary>
    public float[]? ChannelVector(string tensor, int channels)
    {
        if (Floats(tensor) is not { } v || Dims(tensor) is not { } dims) return null;
        if (v.Length == 1) return Enumerable.Repeat(v[0], channels).ToArray();
        return v.Length == channels && dims.Length >= 1 && dims[^1] == channels ? v : null;
    }
}
