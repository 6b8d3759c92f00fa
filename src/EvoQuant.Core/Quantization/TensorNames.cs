namespace EvoQuant.Quantization;

/// <summary>The one naming convention for tensors and nodes that quantization derives: the source tensor's
/// name plus a short suffix. The names are repeated in every node that reads them, so they are a large part
/// of a small quantized file: the reference tool's long suffixes ("_QuantizeLinear_Output", "_zero_point")
/// made up about 10 KB of the Fashion CNN's 70 KB QDQ file. Short suffixes keep the names readable,
/// deterministic and unique (<see cref="UniqueNames"/> adds "_1", "_2" on a clash).
/// <list type="table">
/// <item><term>x_q</term><description>x quantized: a quantized weight, or the output of x's QuantizeLinear</description></item>
/// <item><term>x_dq</term><description>the output of x's DequantizeLinear (what x's consumers now read)</description></item>
/// <item><term>x_s, x_zp</term><description>x's scale and zero point</description></item>
/// <item><term>x_Q, x_DQ</term><description>the QuantizeLinear and DequantizeLinear nodes of x</description></item>
/// <item><term>x_f</term><description>the float value of a graph output x before its Q/DQ pair (which writes x)</description></item>
/// </list></summary>
public static class TensorNames
{
    public const string QuantizedSuffix = "_q";
    public const string ScaleSuffix = "_s";
    public const string ZeroPointSuffix = "_zp";
    public const string QuantizeNodeSuffix = "_Q";
    public const string DequantizeNodeSuffix = "_DQ";
    public const string QuantizeOutputSuffix = "_q";
    public const string QuantizeInputSuffix = "_f";
    public const string DequantizeOutputSuffix = "_dq";

    public static string Quantized(string tensor) => tensor + QuantizedSuffix;
    public static string Scale(string tensor) => tensor + ScaleSuffix;
    public static string ZeroPoint(string tensor) => tensor + ZeroPointSuffix;
    public static string QuantizeNode(string tensor) => tensor + QuantizeNodeSuffix;
    public static string DequantizeNode(string tensor) => tensor + DequantizeNodeSuffix;
    public static string QuantizeOutput(string tensor) => tensor + QuantizeOutputSuffix;
    public static string QuantizeInput(string tensor) => tensor + QuantizeInputSuffix;
    public static string DequantizeOutput(string tensor) => tensor + DequantizeOutputSuffix;
}

/// <summary>Hands out names not yet used in a graph (a model may already hold "x_scale").</summary>
internal sealed class UniqueNames
{
    private readonly HashSet<string> _used;
    // The last suffix handed out per wanted name: names are never given back, so every smaller suffix is
    // still taken and probing resumes there (n takes of one name cost n probes, not n^2 / 2).
    private readonly Dictionary<string, int> _lastSuffix = new(StringComparer.Ordinal);

    public UniqueNames(IEnumerable<string> used) => _used = new HashSet<string>(used, StringComparer.Ordinal);

    public string Take(string wanted)
    {
        if (_used.Add(wanted)) return wanted;
        for (int i = _lastSuffix.GetValueOrDefault(wanted) + 1; ; i++)
        {
            string candidate = $"{wanted}_{i}";
            if (_used.Add(candidate))
            {
                _lastSuffix[wanted] = i;
                return candidate;
            }
        }
    }
}
