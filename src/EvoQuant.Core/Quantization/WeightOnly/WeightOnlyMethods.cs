namespace EvoQuant.Quantization.WeightOnly;

/// <summary>The weight-only methods known by name (what -WeightOnlyMethod accepts and completes), as the
/// calibration methods are: a method is one <see cref="IWeightOnlyMethod"/> class and one line here.</summary>
public static class WeightOnlyMethods
{
    private static readonly Dictionary<string, Func<IWeightOnlyMethod>> Known = new(StringComparer.OrdinalIgnoreCase)
    {
        ["RTN"] = () => RoundToNearestMethod.Instance,
        ["GPTQ"] = () => GptqMethod.Default,
    };

    /// <summary>Names of the known methods, in a stable order.</summary>
    public static IReadOnlyList<string> Names => Known.Keys.OrderBy(n => n, StringComparer.Ordinal).ToList();

    /// <summary>The method of that name (case-insensitive), or null.</summary>
    public static IWeightOnlyMethod? Find(string name) => Known.TryGetValue(name, out var f) ? f() : null;

    /// <summary>The method named (case-insensitive); without a name, GPTQ when calibration samples are given
    /// (it is the one that uses them) and round-to-nearest when not.</summary>
    /// <exception cref="QuantizationOptionsException">No method has that name.</exception>
    public static IWeightOnlyMethod Choose(string? name, bool samplesGiven)
    {
        if (string.IsNullOrWhiteSpace(name)) return samplesGiven ? GptqMethod.Default : RoundToNearestMethod.Instance;
        return Find(name) ?? throw new QuantizationOptionsException("WeightOnly.Method", $"There is no weight-only method '{name}'; the methods are {string.Join(", ", Names)}.");
    }

    /// <summary>Adds a method under its name (another helper's GPTQ, a test's own method).</summary>
    public static void Register(string name, Func<IWeightOnlyMethod> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        lock (Known) Known[name] = factory;
    }
}
