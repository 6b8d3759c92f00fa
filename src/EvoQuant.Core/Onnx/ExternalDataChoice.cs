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
