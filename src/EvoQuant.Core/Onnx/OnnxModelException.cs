namespace EvoQuant.Onnx;

/// <summary>What went wrong with a model file; the PowerShell layer maps each kind to a stable ErrorId
/// and error category.</summary>
public enum ModelErrorKind
{
    NotFound,
    IsDirectory,
    Empty,
    /// <summary>Not a parsable ONNX protobuf: random bytes, a truncated file, a wrong format.</summary>
    Corrupt,
    /// <summary>Parsed, but breaks ONNX rules (no graph, a cycle, a tensor whose size disagrees with its data).</summary>
    Invalid,
    /// <summary>An external-data location that is absolute or leaves the model's folder.</summary>
    ExternalDataOutsideFolder,
    ExternalDataMissing,
    /// <summary>An external tensor's offset and length reach beyond the end of its (real) data file.</summary>
    ExternalDataOutOfRange,
    /// <summary>The output would overwrite an input, or exists and overwriting was not asked for.</summary>
    WouldOverwrite,
    TooLarge,
    /// <summary>A model about to be written breaks the rules a load checks; nothing was written.</summary>
    OutputInvalid,
    /// <summary>ONNX Runtime cannot load the model (an operator or element type it does not know).</summary>
    NotRunnable,
}

/// <summary>The one exception type that loading and saving models throws for bad input.</summary>
public sealed class OnnxModelException : Exception
{
    public ModelErrorKind Kind { get; }
    public string? ModelPath { get; }

    public OnnxModelException(ModelErrorKind kind, string message, string? modelPath = null, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        ModelPath = modelPath;
    }
}
