using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Provenance;

/// <summary>
/// How an integer op of a quantized model computes a float op: where each float input went, where the
/// scale and zero point of each quantized input and of the output are. Reading a quantized graph (ours or
/// another tool's) needs this; the QDQ format keeps the float op itself and needs none of it.
/// </summary>
/// <param name="OpType">The integer op (QLinearConv, MatMulInteger ...).</param>
/// <param name="FloatOpTypes">The float ops it can compute.</param>
/// <param name="InputAt">Float input i is at integer input InputAt(i) (negative: none).</param>
/// <param name="ParamsAt">For an integer input position, the positions of its scale and zero point (-1: none;
/// scale -2: the scale is multiplied in after the op, as dynamic MatMulInteger / ConvInteger do).</param>
/// <param name="OutputScaleAt">Position of the output scale (zero point follows), or -1 when the output is
/// float or int32.</param>
/// <param name="ChannelAxis">The channel axis of per-channel weights, given the node (-1 when unknown).</param>
internal sealed record QuantizedOpForm(
    string OpType,
    string[] FloatOpTypes,
    Func<int, int> InputAt,
    Func<int, (int Scale, int ZeroPoint)> ParamsAt,
    int OutputScaleAt,
    Func<NodeProto, int> ChannelAxis)
{
    /// <summary>True when the output is int32 and a Cast / Mul chain after the op makes it float (dynamic).</summary>
    public bool IntegerAccumulator => OpType is "MatMulInteger" or "ConvInteger";

    private static readonly (int, int) None = (-1, -1);

    private static int Transposed(NodeProto n) => n.Attribute.Any(a => a.Name == "transB" && a.I != 0) ? 0 : 1;

    private static readonly QuantizedOpForm[] All =
    {
        new("QLinearConv", ["Conv"], i => i switch { 0 => 0, 1 => 3, 2 => 8, _ => -1 }, p => p switch { 0 => (1, 2), 3 => (4, 5), _ => None }, 6, _ => 0),
        new("QLinearMatMul", ["MatMul"], i => i switch { 0 => 0, 1 => 3, _ => -1 }, p => p switch { 0 => (1, 2), 3 => (4, 5), _ => None }, 6, _ => 1),
        new("QGemm", ["Gemm"], i => i switch { 0 => 0, 1 => 3, 2 => 6, _ => -1 }, p => p switch { 0 => (1, 2), 3 => (4, 5), _ => None }, 7, Transposed),
        new("QLinearAdd", ["Add"], i => i switch { 0 => 0, 1 => 3, _ => -1 }, p => p switch { 0 => (1, 2), 3 => (4, 5), _ => None }, 6, _ => -1),
        new("QLinearMul", ["Mul"], i => i switch { 0 => 0, 1 => 3, _ => -1 }, p => p switch { 0 => (1, 2), 3 => (4, 5), _ => None }, 6, _ => -1),
        new("QLinearConcat", ["Concat"], i => 2 + 3 * i, p => p >= 2 && (p - 2) % 3 == 0 ? (p + 1, p + 2) : None, 0, _ => -1),
        Unary("QLinearGlobalAveragePool", "GlobalAveragePool"),
        Unary("QLinearAveragePool", "AveragePool"),
        Unary("QLinearSigmoid", "Sigmoid"),
        Unary("QLinearLeakyRelu", "LeakyRelu", "Relu"),
        Unary("QLinearSoftmax", "Softmax"),
        new("MatMulInteger", ["MatMul", "Gemm"], i => i switch { 0 => 0, 1 => 1, _ => -1 }, p => p switch { 0 => (-1, 2), 1 => (-2, 3), _ => None }, -1, _ => 1),
        new("ConvInteger", ["Conv"], i => i switch { 0 => 0, 1 => 1, _ => -1 }, p => p switch { 0 => (-1, 2), 1 => (-2, 3), _ => None }, -1, _ => 0),
        new("DynamicQuantizeMatMul", ["MatMul", "Gemm"], i => i switch { 0 => 0, 1 => 1, _ => -1 }, p => p == 1 ? (2, 3) : None, -1, _ => 1),
        new("MatMulIntegerToFloat", ["MatMul"], i => i switch { 0 => 0, 1 => 1, _ => -1 }, p => p switch { 0 => (2, 4), 1 => (3, 5), _ => None }, -1, _ => 1),
        new("DynamicQuantizeLSTM", ["LSTM"], i => i < 8 ? i : -1, p => p switch { 1 => (8, 9), 2 => (10, 11), _ => None }, -1, _ => -1),
    };

    private static QuantizedOpForm Unary(string op, params string[] floats) =>
        new(op, floats, i => i == 0 ? 0 : -1, p => p == 0 ? (1, 2) : None, 3, _ => -1);

    private static readonly Dictionary<string, QuantizedOpForm> ByOp = All.ToDictionary(f => f.OpType, StringComparer.Ordinal);

    /// <summary>The integer form of <paramref name="node"/>, or null when it is a float op (or one we do not read).</summary>
    public static QuantizedOpForm? Of(NodeProto node) => ByOp.GetValueOrDefault(node.OpType);

    /// <summary>Whether <paramref name="candidate"/> can compute the float op <paramref name="floatOp"/>.</summary>
    public bool Computes(string floatOp) => Array.IndexOf(FloatOpTypes, floatOp) >= 0;
}
