using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization;

/// <summary>Role of a tensor marked for quantization.</summary>
public enum TensorRole
{
    /// <summary>Computed at run time; its parameters come from a calibrated range.</summary>
    Activation,
    /// <summary>A constant quantized offline with the weight type (per channel when an axis is set).</summary>
    Weight,
}

/// <summary>A tensor an op quantizer asked to quantize.</summary>
/// <param name="Name">The tensor.</param>
/// <param name="Role">Activation, weight or bias, which decides its type and parameters.</param>
/// <param name="Axis">The channel axis for per-channel parameters, or null for one scale.</param>
/// <param name="SharedWith">Reuse this (earlier) tensor's parameters instead of computing new ones (pass-through ops).</param>
/// <param name="FixedRange">A range known from the op's semantics (Softmax: [0,1]), used instead of calibration.</param>
/// <param name="Reduction">How the op's integer kernel walks this weight (pairs of products), when it has one.</param>
public sealed record TensorRequest(string Name, TensorRole Role, int? Axis = null, string? SharedWith = null, ActivationRange? FixedRange = null,
    EvoQuant.Numerics.ReductionLayout? Reduction = null);

/// <summary>A bias to store as int32 with scale = input scale * weight scale * beta, zero point 0.</summary>
public sealed record BiasRequest(string Bias, string Input, string Weight, string NodeName, float Beta = 1f);

/// <summary>What op quantizers declare, before any rewriting: tensors to quantize, biases, and
/// activation nodes that disappear into their producer's range. Every format builds one plan the same
/// way and only the emitters differ.</summary>
public sealed class QuantizationPlan
{
    private readonly Dictionary<string, TensorRequest> _tensors = new(StringComparer.Ordinal);
    private readonly Dictionary<string, BiasRequest> _biases = new(StringComparer.Ordinal);
    private readonly List<string> _order = new();

    /// <summary>Tensors to quantize in declaration order (producers before consumers).</summary>
    public IEnumerable<TensorRequest> Tensors => _order.Where(_tensors.ContainsKey).Select(n => _tensors[n]);

    public IReadOnlyCollection<BiasRequest> Biases => _biases.Values;

    /// <summary>Nodes quantized, in graph order.</summary>
    public List<NodeProto> QuantizedNodes { get; } = new();

    /// <summary>The TargetDecisions line of a node a structural rule of the selector kept float, if any
    /// (<see cref="NodeSelector.KeptFloatDecision"/>).</summary>
    public string? KeptFloatDecision { get; set; }

    /// <summary>Declarer and emitter of each quantized node (its op type's registration, or the format's fallback).</summary>
    public Dictionary<NodeProto, Rewrite.OpRegistration> Registrations { get; } = new(ReferenceEqualityComparer.Instance);

    /// <summary>Nodes the planner left in float, with the reason (what the result's Skipped lists).</summary>
    public Dictionary<NodeProto, string> LeftFloat { get; } = new(ReferenceEqualityComparer.Instance);

    /// <summary>Relu/Clip nodes removed: their producer now writes their output and its quantization clamps.</summary>
    public List<NodeProto> RemovedNodes { get; } = new();

    /// <summary>Whether this very node (not an equal copy) is planned as quantized: a set lookup where
    /// <c>List.Contains</c> would compare protobuf nodes field by field, per Relu of a long chain.</summary>
    public bool IsQuantized(NodeProto node) => Contains(QuantizedNodes, _quantizedSet, ref _quantizedSeen, node);

    /// <summary>Whether this very node is removed (folded into its producer).</summary>
    public bool IsRemoved(NodeProto node) => Contains(RemovedNodes, _removedSet, ref _removedSeen, node);

    private readonly HashSet<NodeProto> _quantizedSet = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<NodeProto> _removedSet = new(ReferenceEqualityComparer.Instance);
    private int _quantizedSeen, _removedSeen;

    // Op quantizers only append to the lists while planning; the set catches up on what was appended
    // since the last lookup, and starts over if the list got shorter.
    private static bool Contains(List<NodeProto> list, HashSet<NodeProto> set, ref int seen, NodeProto node)
    {
        if (list.Count < seen)
        {
            set.Clear();
            seen = 0;
        }
        for (; seen < list.Count; seen++) set.Add(list[seen]);
        return set.Contains(node);
    }

    /// <summary>Producer output renames caused by removed nodes (old name to new name).</summary>
    public Dictionary<string, string> OutputRenames { get; } = new(StringComparer.Ordinal);

    public bool IsMarked(string tensor) => _tensors.ContainsKey(tensor) || _biases.ContainsKey(tensor);

    public TensorRequest? Get(string tensor) => _tensors.GetValueOrDefault(tensor);

    public void AddActivation(string tensor, ActivationRange? fixedRange = null)
    {
        if (_tensors.TryGetValue(tensor, out var existing))
        {
            // A fixed range (Softmax output) beats a plain request for the same tensor.
            if (fixedRange != null && existing.FixedRange == null && existing.Role == TensorRole.Activation)
                _tensors[tensor] = existing with { FixedRange = fixedRange, SharedWith = null };
            return;
        }
        Add(new TensorRequest(tensor, TensorRole.Activation, FixedRange: fixedRange));
    }

    /// <summary>Quantize <paramref name="tensor"/> with the parameters of <paramref name="source"/>.</summary>
    public void AddShared(string tensor, string source)
    {
        if (_tensors.TryGetValue(tensor, out var existing) && existing.SharedWith == null) return; // own params win
        Add(new TensorRequest(tensor, TensorRole.Activation, SharedWith: source));
    }

    public void AddWeight(string tensor, int? axis, EvoQuant.Numerics.ReductionLayout? reduction = null)
    {
        if (_tensors.TryGetValue(tensor, out var existing))
        {
            // A weight shared by several nodes: per-tensor wins when they disagree on the axis, and
            // different kernel layouts cannot both be made pair-safe by one scale per channel.
            if (existing.Role == TensorRole.Weight && existing.Axis != axis) existing = _tensors[tensor] = existing with { Axis = null };
            if (existing.Role == TensorRole.Weight && existing.Reduction != reduction) _tensors[tensor] = existing with { Reduction = EvoQuant.Numerics.ReductionLayout.Mixed };
            return;
        }
        Add(new TensorRequest(tensor, TensorRole.Weight, axis, Reduction: reduction));
    }

    public void AddBias(BiasRequest bias)
    {
        if (!_biases.ContainsKey(bias.Bias) && !_tensors.ContainsKey(bias.Bias)) _biases[bias.Bias] = bias;
    }

    /// <summary>Drops a request (a bias that cannot be int32, a tensor renamed away).</summary>
    public void Remove(string tensor)
    {
        _tensors.Remove(tensor);
        _biases.Remove(tensor);
    }

    private void Add(TensorRequest r)
    {
        if (!_tensors.ContainsKey(r.Name)) _order.Add(r.Name);
        _tensors[r.Name] = r;
    }
}
