using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Provenance;

namespace EvoQuant.Quantization.Rewrite;

/// <summary>What every format's rewrite does around its emitters, in one place: it works on a copy of the
/// model (the caller's is never touched), takes new names that collide with nothing, writes quantized
/// initializers through one <see cref="InitializerStore"/>, records a <see cref="QuantizationProvenance"/>,
/// imports the domains the emitted nodes use (com.microsoft defined once), raises old opsets, drops the float
/// tensors quantization replaced and stamps the producer.</summary>
internal abstract class GraphRewrite
{
    public const string MicrosoftDomain = "com.microsoft";

    private readonly HashSet<string> _domains = new(StringComparer.Ordinal);

    protected GraphRewrite(OnnxModel model, QuantizationOptions options, List<string> warnings)
    {
        Model = model;
        Options = options;
        Warnings = warnings;
        Opset = model.DefaultOpset;
        Proto = model.CloneProto();
        Graph = Proto.Graph;
        Names = new UniqueNames(GraphEdits.AllNames(Graph));
        Store = new InitializerStore(Graph, Names, options.StreamedData);
        _streamedUpTo = Graph.Initializer.Count;
    }

    private int _streamedUpTo;

    /// <summary>With <see cref="QuantizationOptions.StreamedData"/>: the initializers added to the main graph
    /// since the last call go to disk (called after each tensor or node a format quantizes).</summary>
    protected void StreamNewInitializers()
    {
        if (Options.StreamedData is not { } streamed) return;
        for (; _streamedUpTo < Graph.Initializer.Count; _streamedUpTo++) streamed.Write(Graph.Initializer[_streamedUpTo]);
    }

    public OnnxModel Model { get; }
    public QuantizationOptions Options { get; }
    public List<string> Warnings { get; }

    /// <summary>Version of the default ONNX domain the source model imports.</summary>
    public long Opset { get; }

    /// <summary>The copy being rewritten, and its main graph.</summary>
    public ModelProto Proto { get; }
    public GraphProto Graph { get; }
    public UniqueNames Names { get; }

    /// <summary>Quantized initializers of the main graph.</summary>
    public InitializerStore Store { get; }

    /// <summary>What the emitters did, for the result.</summary>
    public QuantizationProvenance Provenance { get; } = new();

    /// <summary>Float tensors quantization replaced: dropped when nothing reads them any more.</summary>
    public HashSet<string> Replaced { get; } = new(StringComparer.Ordinal);

    /// <summary>Notes that an emitted node uses <paramref name="domain"/>, so that the model imports it.</summary>
    public void UseDomain(string domain)
    {
        if (domain.Length > 0 && domain != "ai.onnx") _domains.Add(domain);
    }

    /// <summary>A node of <paramref name="domain"/>; the domain is imported. A null domain is left unset (the
    /// ONNX default, and a byte less than an explicit "").</summary>
    public NodeProto NewNode(string opType, string? domain, string name, IEnumerable<string> inputs, IEnumerable<string> outputs)
    {
        var n = new NodeProto { OpType = opType, Name = name };
        if (domain != null)
        {
            UseDomain(domain);
            n.Domain = domain;
        }
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        return n;
    }

    /// <summary>The name of a node that replaces <paramref name="node"/>: its name plus "_quant", or
    /// <paramref name="fallback"/> (first output) when it has none and the format names every node.</summary>
    public string QuantNodeName(NodeProto node, string? fallback = null) =>
        node.Name.Length > 0 ? Names.Take(node.Name + "_quant") : fallback != null ? Names.Take(fallback + "_quant") : "";

    /// <summary>Below opset 10 there are no quantized operators: Slice/TopK nodes get their opset-10 form first
    /// (the validator checked that no other op changes meaning).</summary>
    protected void ConvertOldOpsetNodes()
    {
        if (Opset < OpsetUpgrade.QdqOpset && !OpsetUpgrade.ConvertNodesTo10(Graph, Names))
            throw new QuantizationException("The model's opset-9 Slice/TopK nodes in subgraphs cannot be converted to opset 10.");
    }

    /// <summary>Raises the default opset to 10 when it was older (see <see cref="ConvertOldOpsetNodes"/>), saying
    /// why with <paramref name="what"/> (the ops that need it).</summary>
    protected void RaiseOldOpset(string what)
    {
        if (Opset >= OpsetUpgrade.QdqOpset) return;
        foreach (var o in Proto.OpsetImport.Where(o => o.Domain is "" or "ai.onnx")) o.Version = OpsetUpgrade.QdqOpset;
        Warnings.Add($"The model's opset was raised from {Opset} to {OpsetUpgrade.QdqOpset}, where {what} exist; its Slice/TopK nodes were converted to their opset-10 form.");
    }

    /// <summary>Imports every domain the emitted nodes use (version 1), and stamps the producer.</summary>
    protected ModelProto Finish()
    {
        foreach (var d in _domains)
            if (!Proto.OpsetImport.Any(o => o.Domain == d))
                Proto.OpsetImport.Add(new OperatorSetIdProto { Domain = d, Version = 1 });
        Proto.ProducerName = "EvoQuant";
        Proto.ProducerVersion = typeof(GraphRewrite).Assembly.GetName().Version?.ToString(3) ?? "";
        return Proto;
    }

    /// <summary>Per-channel 8-bit weights must be signed where the kernels want one zero point (0) on every channel:
    /// uint8 becomes int8, with <paramref name="warning"/> said once.</summary>
    public QuantType SignedPerChannel(QuantType type, int? axis, string warning)
    {
        if (axis == null || type != QuantType.UInt8) return type;
        if (_saidOnce.Add(warning)) Warnings.Add(warning);
        return QuantType.Int8;
    }
    private readonly HashSet<string> _saidOnce = new(StringComparer.Ordinal);

    /// <summary>Adds a warning once (a message repeated per node is said once).</summary>
    public void WarnOnce(string message)
    {
        _warned ??= new HashSet<string>(Warnings, StringComparer.Ordinal);
        if (_warned.Add(message)) Warnings.Add(message);
    }
    private HashSet<string>? _warned;

    /// <summary>Records a tensor's quantized form.</summary>
    public void RecordTensor(string source, ProvenanceKind kind, StoredTensor stored, string? dequantized = null, string? sharedWith = null, string? decision = null,
        IReadOnlyList<int>? permutation = null) =>
        Provenance.AddTensor(new TensorProvenance(source, kind, stored.Quantized.Length > 0 ? stored.Quantized : null, stored.Scale.Length > 0 ? stored.Scale : null,
            stored.ZeroPoint, stored.Axis, dequantized, sharedWith, decision, permutation));

    /// <summary>Records what the plan decided before any emitter ran: Relu/Clip folded into their producer
    /// (and the renames that makes), and nodes the planner left float with their reasons.</summary>
    protected void RecordPlanOutcomes(GraphView source, QuantizationPlan plan)
    {
        foreach (var n in plan.RemovedNodes)
        {
            var producer = source.Producer(n.Input[0]);
            RecordNode(n, NodeOutcome.Folded, Array.Empty<string>(), $"folded into its producer: the quantization of '{n.Output[0]}' clamps as {n.OpType} does.",
                producer != null ? SourceKey(producer) : null);
        }
        foreach (var (oldName, newName) in plan.OutputRenames) Provenance.AddRename(oldName, newName);
        foreach (var (n, reason) in plan.LeftFloat) RecordNode(n, NodeOutcome.Float, new[] { NodeKey(n) }, reason);
    }

    /// <summary>Producers of folded Relu/Clip write the folded node's output: one lookup per node output
    /// (a scan of the graph per rename was quadratic on long Conv/Relu chains).</summary>
    protected void ApplyOutputRenames(IReadOnlyDictionary<string, string> renames)
    {
        if (renames.Count == 0) return;
        foreach (var n in Graph.Node)
            for (int k = 0; k < n.Output.Count; k++)
                if (renames.TryGetValue(n.Output[k], out var newName)) n.Output[k] = newName;
    }

    /// <summary>Records what became of a source node (keyed by its first output).</summary>
    public void RecordNode(NodeProto source, NodeOutcome outcome, IEnumerable<string> emitted, string? reason = null, string? foldedInto = null) =>
        Provenance.AddNode(new NodeProvenance(SourceKey(source), source.OpType, outcome, emitted.ToList(), reason, foldedInto));

    /// <summary>First outputs a preparation step changed (a Conv that absorbed its BatchNormalization writes
    /// the normalization's output): prepared name to the name in the model the user gave.</summary>
    public Dictionary<string, string> PreparedKeys { get; } = new(StringComparer.Ordinal);

    /// <summary>A planned node's identity in the user's model.</summary>
    public string SourceKey(NodeProto source) => PreparedKeys.GetValueOrDefault(NodeKey(source), NodeKey(source));

    /// <summary>A node's identity in the provenance: its first output.</summary>
    public static string NodeKey(NodeProto node) => node.Output.Count > 0 ? node.Output[0] : node.Name;

    /// <summary>The words a target decision adds to a weight's provenance (pair-safe scales).</summary>
    public static string? DecisionFor(QuantizedTensor qt) =>
        qt.PairSafeChanges > 0 ? $"pair-safe: {qt.PairSafeChanges} scale(s) widened or pairs pulled back so that no 16-bit pair sum saturates" : null;
}
