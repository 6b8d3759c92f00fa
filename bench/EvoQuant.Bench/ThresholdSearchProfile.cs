using System.Diagnostics;
using EvoQuant.Calibration;
using EvoQuant.Onnx;

namespace EvoQuant.Bench;

/// <summary>The Entropy threshold searches alone, on the histograms a real calibration grows (fashion-cnn,
/// N images, 2048 bins): <c>dotnet run -c Release --project bench/EvoQuant.Bench -- calib-search [N] [repeats]</c>.
/// Times <c>ComputeRanges</c> on both cores (what <c>Complete</c> spends) and the searches one by one on one
/// thread, and prints the candidate windows searched, so a change to the search can be measured by itself.</summary>
public static class ThresholdSearchProfile
{
    public static int Run(string[] args)
    {
        int samples = args.Length > 0 ? int.Parse(args[0]) : 1000;
        int repeats = args.Length > 1 ? int.Parse(args[1]) : 10;
        string root = BenchFiles.Root;
        var model = OnnxModel.Load(Path.Combine(root, "..", "shared", "models", "fashion-cnn.onnx"));
        var options = new CalibrationOptions { BatchSize = 32, Method = CalibrationMethod.Entropy, Bins = 2048 };
        CalibrationTable table;
        using (var run = new CalibrationRun(model, options))
        {
            run.Add(Data.NpyReader.ReadRows(Path.Combine(root, "..", "shared", "models", "fashion-test-2000.x.npy"), samples).First());
            table = run.Complete();
        }
        long windows = table.Ranges.Sum(r => r.Histogram == null ? 0 : r.Histogram.Counts.Length / 2);
        Console.WriteLine($"{table.Ranges.Count} histograms, about {windows} candidate windows");
        // The histograms as the search sees them: symmetric around 0, k bins a side.
        var symmetric = new List<(long[] Counts, int MinHalf)>();
        foreach (var row in table.Ranges)
        {
            var h = row.Histogram!;
            int origin = -h.FirstBin;
            int first = Array.FindIndex(h.Counts, v => v != 0), last = Array.FindLastIndex(h.Counts, v => v != 0);
            if (first < 0) continue;
            int k = Math.Max(origin - first, last + 1 - origin);
            var sym = new long[2 * k];
            for (int j = first; j <= last; j++) sym[j - origin + k] = h.Counts[j];
            symmetric.Add((sym, (int)Math.Ceiling(k * (double)table.Settings.QuantizedBins / table.Settings.EffectiveBins)));
        }
        int q = table.Settings.QuantizedBins;
        var find = new List<double>();
        var blocks = new List<double>();
        for (int r = 0; r <= repeats; r++)
        {
            var sw0 = Stopwatch.StartNew();
            foreach (var (h, minHalf) in symmetric) EntropyThreshold.Find(h, 0, 1, q, minHalf);
            if (r > 0) find.Add(sw0.Elapsed.TotalMilliseconds);
            // The same candidates block by block (the search before candidates shared their inner blocks).
            sw0.Restart();
            double sink = 0;
            foreach (var (h, minHalf) in symmetric)
            {
                var search = new EntropyThreshold.Search(h, q, h.Sum());
                int zero = h.Length / 2;
                for (int i = Math.Min(zero, Math.Max(q / 2, minHalf)); i <= zero; i++) sink += Math.Min(search.Divergence(zero - i, Math.Min(zero + i + 1, h.Length)), 0);
            }
            if (r > 0) blocks.Add(sw0.Elapsed.TotalMilliseconds);
            GC.KeepAlive(sink);
        }
        Console.WriteLine($"Find, one thread: {BenchFiles.Median(find):F2} ms; the same candidates block by block: {BenchFiles.Median(blocks):F2} ms");
        var parallel = new List<double>();
        var serial = new List<double>();
        for (int r = 0; r <= repeats; r++)
        {
            var cal = (HistogramCalibrator)CalibrationTable.ToCalibrator(table);
            var sw = Stopwatch.StartNew();
            var ranges = cal.ComputeRanges();
            if (r > 0) parallel.Add(sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            foreach (var row in table.Ranges)
            {
                var one = (HistogramCalibrator)Calibrator.Create(table.Settings);
                one.Load(row);
                one.ComputeRanges();
            }
            if (r > 0) serial.Add(sw.Elapsed.TotalMilliseconds);
            for (int k = 0; k < ranges.Count; k++)
                if (ranges[k].RangeMin != table.Ranges[k].RangeMin || ranges[k].RangeMax != table.Ranges[k].RangeMax)
                    throw new InvalidOperationException($"{ranges[k].Tensor}: the search gave another range");
        }
        Console.WriteLine($"ComputeRanges, both cores: median {BenchFiles.Median(parallel):F2} ms   all: {string.Join(" ", parallel.Select(x => x.ToString("F1")))}");
        Console.WriteLine($"one thread, tensor by tensor: median {BenchFiles.Median(serial):F2} ms   all: {string.Join(" ", serial.Select(x => x.ToString("F1")))}");
        return 0;
    }
}
