namespace EvoQuant.Quantization.Rewrite;

/// <summary>The three rewrites an op can be registered for: the two static formats and dynamic
/// quantization (written with QOperator-style integer ops, activations quantized at run time).</summary>
public enum RewriteFormat
{
    QDQ,
    QOperator,
    Dynamic,
}

public static class RewriteFormats
{
    /// <summary>The rewrite that <paramref name="options"/> ask for.</summary>
    public static RewriteFormat Of(QuantizationOptions options) =>
        options.Mode == QuantMode.Dynamic ? RewriteFormat.Dynamic : Of(options.Format);

    public static RewriteFormat Of(QuantFormat format) => format == QuantFormat.QOperator ? RewriteFormat.QOperator : RewriteFormat.QDQ;
}
