namespace EvoQuant.Calibration;

/// <summary>What about a sample did not fit the model.</summary>
public enum SampleMismatchKind
{
    Shape,
    ElementType,
    MissingInput,
    UnnamedTensor,
    /// <summary>A tensor is named, but after no input of the model (a .pb or .npz meant for another model).</summary>
    UnknownName,
    /// <summary>A float input holds NaN or infinite values: its activations would be NaN, its ranges garbage.</summary>
    NonFinite,
}

/// <summary>A sample that does not fit the model's inputs: the message names the input, what the model
/// expects, what the sample has, and where the sample came from.</summary>
public sealed class SampleMismatchException : Exception
{
    public SampleMismatchKind Kind { get; }
    public string? InputName { get; }
    public string Expected { get; }
    public string Actual { get; }
    public string SampleSource { get; }

    public SampleMismatchException(SampleMismatchKind kind, string? inputName, string expected, string actual, string sampleSource, string? detail = null)
        : base(Compose(kind, inputName, expected, actual, sampleSource, detail))
    {
        Kind = kind;
        InputName = inputName;
        Expected = expected;
        Actual = actual;
        SampleSource = sampleSource;
    }

    private static string Compose(SampleMismatchKind kind, string? input, string expected, string actual, string source, string? detail)
    {
        string what = kind switch
        {
            SampleMismatchKind.Shape => $"Input '{input}' expects shape {expected} but the sample has {actual}",
            SampleMismatchKind.ElementType => $"Input '{input}' expects {expected} but the sample has {actual}",
            SampleMismatchKind.MissingInput => $"The sample has no tensor for input '{input}' (expected {expected}); it has {actual}",
            SampleMismatchKind.UnknownName => $"The sample's tensor is named '{actual}', which is no input of the model (its inputs are {expected})",
            SampleMismatchKind.NonFinite => $"Input '{input}' of the sample holds {actual} NaN or infinite values; calibration samples must be finite",
            _ => $"The sample's tensors cannot be matched to the model's inputs {expected}: it has {actual}",
        };
        return $"{what} (sample: {source}).{(detail != null ? " " + detail : "")}";
    }
}
