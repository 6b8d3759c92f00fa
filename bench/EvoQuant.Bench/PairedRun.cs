using System.Diagnostics;
using EvoQuant.Numerics;

namespace EvoQuant.Bench;

/// <summary>
/// `dotnet run -c Release --project bench/EvoQuant.Bench -- --paired [rounds]`: runs every kernel
/// benchmark once per round, in rotation, and reports the minimum and median time of each. On shared,
/// noisy cores this keeps the ratios honest: each kernel sees the same background load, and the minimum
/// approximates the unloaded cost. An untimed read of a separate 64 MB buffer precedes every call. BenchmarkDotNet (the default mode) remains the reference harness.
/// </summary>
public static class PairedRun
{
    public static void Run(int rounds, string? filter = null)
    {
        var b = new KernelBenchmarks();
        b.Setup();
        var cases = new (string Name, double BytesPerElement, Action Body)[]
        {
            ("Copy 16M floats", 8, b.Copy),
            ("Quantize int8", 5, b.QuantizeInt8),
            ("Quantize uint8", 5, b.QuantizeUInt8),
            ("Dequantize int8", 5, b.DequantizeInt8),
            ("MinMax", 4, () => b.MinMax()),
            ("Histogram 2048 bins", 4, b.Histogram),
            ("Abs histogram 2048 bins", 4, b.AbsHistogram),
            ("Increments alone, 16M (histogram bound)", 4, b.IncrementBound),
            ("SQNR", 8, () => b.Sqnr()),
            ("Quantize int8, all cores", 5, b.QuantizeInt8Parallel),
            ("Histogram 2048 bins, all cores", 4, b.HistogramParallel),
            ("ORT QuantizeLinear int8", 5, b.OrtQuantize),
            ("ORT DequantizeLinear int8", 5, b.OrtDequantize),
        };
        // Optional substring filter; the copy baseline and ORT rows always stay for the ratios.
        if (filter != null)
            cases = cases.Where((c, k) => k == 0 || c.Name.StartsWith("ORT") || c.Name.Contains(filter, StringComparison.OrdinalIgnoreCase)).ToArray();
        var times = cases.Select(_ => new List<double>()).ToArray();
        // Before each timed call, an untimed pass over another 64 MB evicts the previous kernel's dirty
        // lines, so no kernel pays for its predecessor's write-backs (the copy leaves 64 MB of them).
        var flush = new float[KernelBenchmarks.N];
        flush.AsSpan().Fill(1f);
        for (int w = 0; w < 3; w++) foreach (var c in cases) c.Body();
        for (int r = 0; r < rounds; r++)
            for (int k = 0; k < cases.Length; k++)
            {
                Kernels.MaxAbs(flush);
                long t0 = Stopwatch.GetTimestamp();
                cases[k].Body();
                times[k].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
        b.Cleanup();

        double copyMin = times[0].Min();
        double copyGBs = KernelBenchmarks.N * 8 / copyMin / 1e6;
        double ortQ = times[^2].Min(), ortDq = times[^1].Min();
        Console.WriteLine($"| Kernel | min ms | median ms | G elements/s | GB/s | % of copy-bound ceiling | vs ORT (time ratio) |");
        Console.WriteLine($"|---|---:|---:|---:|---:|---:|---:|");
        for (int k = 0; k < cases.Length; k++)
        {
            var sorted = times[k].Order().ToArray();
            double min = sorted[0], median = sorted[sorted.Length / 2];
            double eps = KernelBenchmarks.N / min / 1e6;                  // G elements/s
            double gbs = eps * cases[k].BytesPerElement;
            double ceiling = copyGBs / cases[k].BytesPerElement;           // G elements/s at copy bandwidth
            string name = cases[k].Name;
            string vsOrt = name.StartsWith("Quantize") && !name.Contains("cores") ? $"{min / ortQ:F2}" : name.StartsWith("Dequantize") ? $"{min / ortDq:F2}" : "";
            Console.WriteLine($"| {cases[k].Name} | {min:F2} | {median:F2} | {eps:F2} | {gbs:F1} | {100 * eps / ceiling:F0} % | {vsOrt} |");
        }
    }
}
