namespace EvoQuant.Quantization.Rewrite;

/// <summary>The rewrites an op can be registered for: the two static formats, dynamic
/// quantization (written with QOperator-style integer ops, activations quantized at run time) and
/// weight-only quantization (block-quantized weights, float activations).</summary>
public enum RewriteFormat
{
    QDQ,
    QOperator,
    Dynamic,
    WeightOnly,
}

public static class RewriteFormats
{
    /// <summary>The rewrite that <paramref name="options"/> ask for.</summary>
    public static RewriteFormat Of(QuantizationOptions options) =>
        options.Mode switch
        {
            QuantMode.Dynamic => RewriteFormat.Dynamic,
            QuantMode.WeightOnly => RewriteFormat.WeightOnly,
            _ => Of(options.Format),
        };

    public static RewriteFormat Of(QuantFormat format) => format == QuantFormat.QOperator ? RewriteFormat.QOperator : RewriteFormat.QDQ;
}
