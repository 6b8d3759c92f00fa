namespace EvoQuant.Bench;

/// <summary>Where the benchmarks find the repository and the shared models, and the median they report.</summary>
internal static class BenchFiles
{
    /// <summary>The repository root (the folder of EvoQuant.psd1), found upwards from the running benchmark
    /// (BenchmarkDotNet runs it from a generated folder under bin).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>../shared/models beside the repository.</summary>
    public static string SharedModels => Path.GetFullPath(Path.Combine(Root, "..", "shared", "models"));

    /// <summary>A BERT-family model the test-data step extracted (minilm, arctic-xs): model.onnx and vocab.txt.</summary>
    public static string Transformer(string name) => Path.Combine(Root, ".testdata", "transformers", name);

    /// <summary>The Debian fortune files the test-data step extracted (real English sentences).</summary>
    public static string Fortunes => Path.Combine(Root, ".testdata", "fortunes");

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "EvoQuant.psd1"))) return d.FullName;
        throw new InvalidOperationException("Cannot find the repository root (EvoQuant.psd1) above " + AppContext.BaseDirectory);
    }

    public static double Median(IEnumerable<double> values)
    {
        var a = values.OrderBy(x => x).ToArray();
        return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
    }
}
