namespace EvoQuant.Quantization.Provenance;

/// <summary>
/// The map from the float model to the quantized model that the rewrite returns with its result:
/// for every source node what now computes it, for every quantized tensor where its integer form,
/// scale, zero point and axis live, and which tensors were renamed. The evaluation reads this instead of
/// guessing from names; a model quantized elsewhere gets one inferred from its graph.
/// </summary>
public sealed class QuantizationProvenance
{
    private readonly Dictionary<string, TensorProvenance> _tensors = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NodeProvenance> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _renames = new(StringComparer.Ordinal);

    /// <summary>True when the rewrite recorded this map; false when it was inferred from a quantized graph.</summary>
    public bool Recorded { get; init; } = true;

    /// <summary>Quantized tensors by their source name.</summary>
    public IReadOnlyDictionary<string, TensorProvenance> Tensors => _tensors;

    /// <summary>Source nodes by their first output.</summary>
    public IReadOnlyDictionary<string, NodeProvenance> Nodes => _nodes;

    /// <summary>Source tensors that have another name in the output (a removed Relu's output is now written by
    /// its producer under the producer's name, or the other way round): source name to output name.</summary>
    public IReadOnlyDictionary<string, string> Renames => _renames;

    public void AddTensor(TensorProvenance tensor) => _tensors[tensor.SourceTensor] = tensor;

    public void AddNode(NodeProvenance node) => _nodes[node.SourceNode] = node;

    public void AddRename(string sourceTensor, string outputTensor) => _renames[sourceTensor] = outputTensor;

    /// <summary>This recorded map with the node outcomes of <paramref name="read"/>, the map read off the output
    /// graph: what runs decides whether a node is quantized. A node kept in float on purpose but left between
    /// a DequantizeLinear and a QuantizeLinear (its neighbours are quantized) still has its output quantized,
    /// and ONNX Runtime fuses such a group into an integer op where it can; the evaluation must see its error.
    /// Folded nodes, tensors, renames and decisions stay as recorded; what only the reading found is added.</summary>
    public QuantizationProvenance WithRuntimeOutcomes(QuantizationProvenance read)
    {
        ArgumentNullException.ThrowIfNull(read);
        var merged = new QuantizationProvenance { Recorded = Recorded };
        foreach (var t in read.Tensors.Values) merged.AddTensor(t);
        foreach (var t in _tensors.Values) merged.AddTensor(t);
        foreach (var n in _nodes.Values) merged.AddNode(n);
        foreach (var n in read.Nodes.Values)
            if (!_nodes.TryGetValue(n.SourceNode, out var recorded) || recorded.Outcome != NodeOutcome.Folded)
                merged.AddNode(recorded != null && n.Outcome == NodeOutcome.Float ? recorded : n);
        foreach (var (source, output) in read.Renames) merged.AddRename(source, output);
        foreach (var (source, output) in _renames) merged.AddRename(source, output);
        return merged;
    }

    /// <summary>The source node that computes <paramref name="sourceNode"/>'s output: itself, or for a folded node the
    /// node it was folded into, followed through folds of folds (a Relu folded into a Conv that absorbed a BatchNormalization).</summary>
    public string AbsorberOf(string sourceNode)
    {
        ArgumentNullException.ThrowIfNull(sourceNode);
        var key = sourceNode;
        for (int i = 0; i < _nodes.Count && _nodes.TryGetValue(key, out var n) && n.Outcome == NodeOutcome.Folded && n.FoldedInto != null; i++)
            key = n.FoldedInto;
        return key;
    }

    /// <summary>The name a source tensor has in the output model.</summary>
    public string OutputNameOf(string sourceTensor) => _renames.GetValueOrDefault(sourceTensor, sourceTensor);
}
