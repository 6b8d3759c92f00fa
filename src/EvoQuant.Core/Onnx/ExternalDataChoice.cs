namespace EvoQuant.Onnx;

/// <summary>Whether a written model keeps its tensors in a side file (&lt;model&gt;.data) next to it.</summary>
public enum ExternalDataChoice
{
    /// <summary>A side file when the source model had one, or when the tensors are too large for one
    /// protobuf (<see cref="ModelSaveOptions.ExternalDataAutoLimit"/>); else one file.</summary>
    Auto,

    /// <summary>Always a side file for the tensors of at least <see cref="ModelSaveOptions.ExternalDataThreshold"/> bytes.</summary>
    Always,

    /// <summary>One file, every tensor inline; refused when the model cannot fit one protobuf (2 GiB).</summary>
    Never,
}

/// <summary>The one reading of <see cref="ExternalDataChoice"/> that the save and the streamed scratch file share.</summary>
internal static class ExternalDataChoiceExtensions
{
    /// <summary>Whether the output gets a side file: Always and Never say so; Auto asks <paramref name="auto"/>.</summary>
    internal static bool WantsSideFile(this ExternalDataChoice choice, Func<bool> auto) => choice switch
    {
        ExternalDataChoice.Always => true,
        ExternalDataChoice.Never => false,
        _ => auto(),
    };
}
