namespace EvoQuant.Onnx;

/// <summary>A graph input or output: name, element type and shape (symbolic dims kept as names).</summary>
public sealed record TensorInfo(string Name, string ElementType, IReadOnlyList<string> Shape)
{
    /// <summary>Shape as text, e.g. [N,1,28,28]; "?" for an unknown dim, "(unknown rank)" when no shape is given.</summary>
    public string ShapeText => Shape.Count == 0 && !HasRank ? "(unknown rank)" : "[" + string.Join(",", Shape) + "]";
    public bool HasRank { get; init; } = true;
    public override string ToString() => $"{Name}: {ElementType}{ShapeText}";
}

/// <summary>An operator set the model imports.</summary>
public sealed record OpsetInfo(string Domain, long Version)
{
    public override string ToString() => $"{(Domain.Length == 0 ? "ai.onnx" : Domain)} v{Version}";
}

/// <summary>A node of the graph, as a user inspects it.</summary>
public sealed record NodeInfo(string Name, string OpType, string Domain, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs,
    IReadOnlyDictionary<string, object?> Attributes)
{
    public override string ToString() => $"{Name} ({OpType})";
}

/// <summary>A weight or other constant tensor: an initializer, or the value of a Constant node.</summary>
public sealed record InitializerInfo(string Name, string ElementType, IReadOnlyList<long> Dims, long ElementCount, long ByteSize, string Source, bool IsExternal)
{
    public override string ToString() => $"{Name}: {ElementType}[{string.Join(",", Dims)}]";
}

/// <summary>How a model is quantized, judged from its operators.</summary>
public enum QuantizationFormat
{
    None,
    /// <summary>QuantizeLinear/DequantizeLinear pairs around float operators.</summary>
    QDQ,
    /// <summary>Integer operators: QLinearConv, QLinearMatMul, com.microsoft QGemm/QLinearAdd ...</summary>
    QOperator,
    /// <summary>Weights quantized offline, activations at run time (DynamicQuantizeLinear, MatMulInteger, ConvInteger, fused com.microsoft ops).</summary>
    Dynamic,
    /// <summary>More than one of the above.</summary>
    Mixed,
}
