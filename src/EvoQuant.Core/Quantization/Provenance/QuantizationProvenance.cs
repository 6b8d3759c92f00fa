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

    /// <summary>The name a source tensor has in the output model.</summary>
    public string OutputNameOf(string sourceTensor) => _renames.GetValueOrDefault(sourceTensor, sourceTensor);
}
