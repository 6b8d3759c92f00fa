using System.Collections.ObjectModel;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Onnx;

// The facts Get-OnnxGraph shows: computed once, on first use.
public sealed partial class OnnxModel
{
    private IReadOnlyList<NodeInfo>? _nodes;
    private IReadOnlyList<InitializerInfo>? _initializers;
    private IReadOnlyDictionary<string, int>? _opTypeCounts;

    public string Name => Path != null ? System.IO.Path.GetFileName(Path) : (Proto.Graph?.Name ?? "(in memory)");
    public long IrVersion => Proto.IrVersion;
    public string ProducerName => Proto.ProducerName;
    public string ProducerVersion => Proto.ProducerVersion;
    public string GraphName => Proto.Graph?.Name ?? "";

    public IReadOnlyList<OpsetInfo> Opsets => Proto.OpsetImport.Select(o => new OpsetInfo(o.Domain, o.Version)).ToList();

    /// <summary>Opset version of the default ONNX domain (0 if not imported).</summary>
    public long DefaultOpset => Proto.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();

    public IReadOnlyDictionary<string, string> Metadata =>
        new ReadOnlyDictionary<string, string>(Proto.MetadataProps.GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value));

    public IReadOnlyList<TensorInfo> Inputs => Graph.RuntimeInputs.Select(ToTensorInfo).ToList();
    public IReadOnlyList<TensorInfo> Outputs => Proto.Graph.Output.Select(ToTensorInfo).ToList();

    public int NodeCount => Proto.Graph.Node.Count;

    /// <summary>How many nodes of each op type (domain-qualified for non-default domains), most frequent first.</summary>
    public IReadOnlyDictionary<string, int> OpTypeCounts => _opTypeCounts ??= Proto.Graph.Node
        .GroupBy(QualifiedOpType)
        .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
        .ToDictionary(g => g.Key, g => g.Count());

    public IReadOnlyList<NodeInfo> Nodes => _nodes ??= Graph.Nodes.Select(ToNodeInfo).ToList();

    /// <summary>Weights and other constants: initializers and Constant-node values.</summary>
    public IReadOnlyList<InitializerInfo> Initializers => _initializers ??= BuildInitializers();

    /// <summary>Number of values in weight tensors: float or quantized constants of rank 1 and more,
    /// Constant nodes included (scalars such as Clip bounds are settings, not parameters).</summary>
    public long ParameterCount => Initializers.Where(i => i.Dims.Count > 0).Where(i => i.ElementType is "float32" or "float16" or "float64" or "bfloat16" or "int8" or "uint8" or "int4" or "uint4")
        .Sum(i => i.ElementCount);

    /// <summary>Bytes of all constant tensors.</summary>
    public long WeightBytes => Initializers.Sum(i => i.ByteSize);

    public bool IsQuantized => QuantizationFormat != QuantizationFormat.None;

    public QuantizationFormat QuantizationFormat => DetectFormat();

    internal static string QualifiedOpType(NodeProto n) =>
        string.IsNullOrEmpty(n.Domain) || n.Domain == "ai.onnx" ? n.OpType : $"{n.Domain}:{n.OpType}";

    private QuantizationFormat DetectFormat()
    {
        bool qdq = false, qop = false, dyn = false;
        foreach (var n in Proto.Graph.Node)
        {
            switch (n.OpType)
            {
                case "QuantizeLinear" or "DequantizeLinear": qdq = true; break;
                case "DynamicQuantizeLinear" or "MatMulInteger" or "ConvInteger" or "DynamicQuantizeMatMul" or "MatMulIntegerToFloat" or "DynamicQuantizeLSTM": dyn = true; break;
                default:
                    if (n.OpType.StartsWith("QLinear", StringComparison.Ordinal) || n.OpType is "QGemm" or "QAttention") qop = true;
                    break;
            }
        }
        // QOperator models keep Quantize/Dequantize at their borders; dynamic ones may too.
        int kinds = (qop ? 1 : 0) + (dyn ? 1 : 0);
        if (kinds > 1) return QuantizationFormat.Mixed;
        if (qop) return QuantizationFormat.QOperator;
        if (dyn) return QuantizationFormat.Dynamic;
        return qdq ? QuantizationFormat.QDQ : QuantizationFormat.None;
    }

    private List<InitializerInfo> BuildInitializers()
    {
        var list = new List<InitializerInfo>();
        foreach (var (name, t) in Graph.Constants)
        {
            long count = TensorData.ElementCount(t);
            long bytes = TensorData.IsExternal(t)
                ? ExternalDataInfo.Parse(t).Length ?? ElementTypes.RawByteCount(t.DataType, count)
                : Math.Max(0, ElementTypes.RawByteCount(t.DataType, count));
            string source = Graph.IsInitializer(name) ? "Initializer" : "Constant";
            list.Add(new InitializerInfo(name, ElementTypes.Name(t.DataType), t.Dims.ToList(), count, bytes, source, TensorData.IsExternal(t)));
        }
        return list;
    }

    private static TensorInfo ToTensorInfo(ValueInfoProto vi)
    {
        var tt = vi.Type?.TensorType;
        if (tt == null)
        {
            string kind = vi.Type?.ValueCase.ToString() ?? "unknown";
            return new TensorInfo(vi.Name, kind, Array.Empty<string>()) { HasRank = false };
        }
        string elem = ElementTypes.Name(tt.ElemType);
        if (tt.Shape == null) return new TensorInfo(vi.Name, elem, Array.Empty<string>()) { HasRank = false };
        var dims = tt.Shape.Dim.Select(d => d.ValueCase switch
        {
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => d.DimValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam => d.DimParam,
            _ => "?",
        }).ToList();
        return new TensorInfo(vi.Name, elem, dims);
    }

    private static NodeInfo ToNodeInfo(NodeProto n)
    {
        var attrs = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var a in n.Attribute) attrs[a.Name] = AttributeValue(a);
        return new NodeInfo(n.Name, n.OpType, n.Domain, n.Input.ToList(), n.Output.ToList(), attrs);
    }

    /// <summary>An attribute's value as a plain .NET value (tensors and graphs summarised).</summary>
    public static object? AttributeValue(AttributeProto a) => a.Type switch
    {
        AttributeProto.Types.AttributeType.Float => a.F,
        AttributeProto.Types.AttributeType.Int => a.I,
        AttributeProto.Types.AttributeType.String => a.S.ToStringUtf8(),
        AttributeProto.Types.AttributeType.Floats => a.Floats.ToArray(),
        AttributeProto.Types.AttributeType.Ints => a.Ints.ToArray(),
        AttributeProto.Types.AttributeType.Strings => a.Strings.Select(s => s.ToStringUtf8()).ToArray(),
        AttributeProto.Types.AttributeType.Tensor => $"tensor {ElementTypes.Name(a.T.DataType)}[{string.Join(",", a.T.Dims)}]",
        AttributeProto.Types.AttributeType.Graph => $"graph '{a.G.Name}' ({a.G.Node.Count} nodes)",
        AttributeProto.Types.AttributeType.Graphs => $"{a.Graphs.Count} graphs",
        AttributeProto.Types.AttributeType.Tensors => $"{a.Tensors.Count} tensors",
        _ => a.Type.ToString(),
    };
}
