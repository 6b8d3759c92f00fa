namespace EvoQuant.Data;

/// <summary>One calibration sample: the tensors to feed (by input name, or one unnamed tensor for a
/// single-input model) and where they came from. A sample may hold several rows along axis 0.</summary>
public sealed class Sample
{
    public IReadOnlyList<NamedTensor> Tensors { get; }

    /// <summary>Where the sample came from: a path, "folder/test_data_set_0", "file.npy[32..63]", "item 3".</summary>
    public string Source { get; }

    public Sample(IReadOnlyList<NamedTensor> tensors, string source)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) throw new ArgumentException("A sample needs at least one tensor.", nameof(tensors));
        Tensors = tensors;
        Source = source ?? "(unknown)";
    }

    public Sample(NamedTensor tensor, string source) : this(new[] { tensor }, source) { }

    /// <summary>The tensor for an input name, or null.</summary>
    public NamedTensor? this[string name] => Tensors.FirstOrDefault(t => t.Name == name);

    public override string ToString() => $"{Source}: {string.Join(", ", Tensors)}";
}
