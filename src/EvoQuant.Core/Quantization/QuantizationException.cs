namespace EvoQuant.Quantization;

/// <summary>Quantization could not produce a valid model (a bug or a model we cannot handle);
/// <see cref="NodeName"/> names the node involved when known.</summary>
public class QuantizationException : Exception
{
    public string? NodeName { get; }

    public QuantizationException(string message, string? nodeName = null, Exception? inner = null) : base(message, inner) => NodeName = nodeName;
}

/// <summary>The options are invalid for this model; nothing was done.</summary>
public sealed class QuantizationOptionsException : QuantizationException
{
    /// <summary>The option at fault (a property name of <see cref="QuantizationOptions"/>).</summary>
    public string Option { get; }

    public QuantizationOptionsException(string option, string message) : base(message) => Option = option;
}
