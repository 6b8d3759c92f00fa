using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization;

/// <summary>What op quantizers may ask about the model being quantized: tensor types, constants,
/// options. Read-only; shared by every format.</summary>
public sealed class QuantizationContext
{
    private readonly Dictionary<string, int> _types;

    internal QuantizationContext(OnnxModel model, QuantizationOptions options)
    {
        Model = model;
        Options = options;
        Graph = model.Graph;
        _types = ElementTypeInference.Infer(Graph);
        Opset = model.DefaultOpset;
        Target = Targets.TargetProfile.Resolve(options.Target);
        WeightGuard = Target.GuardFor(options);
    }

    /// <summary>The resolved target CPU, and the saturation guard its weights get.</summary>
    public Targets.TargetProfile Target { get; }
    public Targets.SaturationGuard WeightGuard { get; }

    /// <summary>Counts of weights quantized and widened by the pair-safe guard, for the result's decisions.</summary>
    public WeightGuardTally Tally { get; } = new();

    /// <summary>The layout to make pair-safe for a weight, or null when the guard is off or the op's
    /// kernel has none.</summary>
    public EvoQuant.Numerics.ReductionLayout? PairSafeLayout(TensorRequest r) =>
        WeightGuard == Targets.SaturationGuard.PairSafe && r.Role == TensorRole.Weight ? r.Reduction : null;

    public OnnxModel Model { get; }
    public GraphView Graph { get; }
    public QuantizationOptions Options { get; }

    /// <summary>Version of the default ONNX domain the model imports.</summary>
    public long Opset { get; }

    /// <summary>Element type of a tensor, when it is declared or can be inferred.</summary>
    public int? ElementType(string tensor) => _types.TryGetValue(tensor, out int t) ? t : null;

    /// <summary>True for float32 tensors, the only ones quantized.</summary>
    public bool IsFloat(string tensor) => tensor.Length > 0 && ElementType(tensor) == ElementTypes.Float;

    /// <summary>True when the tensor's value is known offline (initializer or Constant node).</summary>
    public bool IsConstant(string tensor) => Graph.IsConstant(tensor);

    public TensorProto? Constant(string tensor) => Graph.GetConstant(tensor);

    /// <summary>The quantization type a tensor gets: its override, else the weight or activation default.</summary>
    public QuantType TypeFor(string tensor, bool isWeight) =>
        Options.TensorOverrides.TryGetValue(tensor, out var o) && o.Type is QuantType t ? t
        : isWeight ? Options.WeightType : Options.ActivationType;

    public static long IntAttribute(NodeProto node, string name, long fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.I : fallback;

    public static float FloatAttribute(NodeProto node, string name, float fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.F : fallback;
}
