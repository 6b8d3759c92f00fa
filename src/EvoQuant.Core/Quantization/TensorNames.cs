namespace EvoQuant.Quantization;

/// <summary>The one naming convention for tensors and nodes that quantization derives, as the reference
/// tool names them, so that tools keyed on these suffixes keep working.</summary>
public static class TensorNames
{
    public const string QuantizedSuffix = "_quantized";
    public const string ScaleSuffix = "_scale";
    public const string ZeroPointSuffix = "_zero_point";
    public const string QuantizeNodeSuffix = "_QuantizeLinear";
    public const string DequantizeNodeSuffix = "_DequantizeLinear";
    public const string QuantizeOutputSuffix = "_QuantizeLinear_Output";
    public const string QuantizeInputSuffix = "_QuantizeLinear_Input";
    public const string DequantizeOutputSuffix = "_DequantizeLinear_Output";

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

    public UniqueNames(IEnumerable<string> used) => _used = new HashSet<string>(used, StringComparer.Ordinal);

    public string Take(string wanted)
    {
        if (_used.Add(wanted)) return wanted;
        for (int i = 1; ; i++)
        {
            string candidate = $"{wanted}_{i}";
            if (_used.Add(candidate)) return candidate;
        }
    }
}
