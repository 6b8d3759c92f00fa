using System.Diagnostics;
using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Bench;

/// <summary>Peak working set of one calibration of the PaddleOCR recognizer in this process:
/// <c>dotnet run -c Release --project bench/EvoQuant.Bench -- calib-mem METHOD SAMPLES [BATCH] [BUDGET-MiB]</c>
/// (METHOD: MinMax, Entropy, Percentile, Plain, or Fetch-K to run the augmented graph fetching K tensors).
/// Inputs [N,3,48,320]: a deterministic text-line-like pattern, generated batch by batch so the data itself
/// costs one batch of memory. Run each case in its own process.</summary>
public static class CalibrationMemoryProbe
{
    public static int Run(string[] args)
    {
        string method = args[0];
        int samples = int.Parse(args[1]);
        int batch = args.Length > 2 ? int.Parse(args[2]) : 10;
        long budget = args.Length > 3 ? long.Parse(args[3]) << 20 : -1;
        string root = BenchFiles.Root;
        var model = OnnxModel.Load(Path.Combine(root, ".testdata", "npm", "ocr-models", "assets", "ch_PP-OCRv4_rec_infer.onnx"));
        string input = model.Inputs[0].Name;
        IEnumerable<object> Batches()
        {
            for (int at = 0; at < samples; at += batch)
            {
                int n = Math.Min(batch, samples - at);
                var x = new float[n * 3 * 48 * 320];
                for (int i = 0; i < x.Length; i++)
                {
                    long g = (long)at * 3 * 48 * 320 + i; // global index: the same data whatever the batching
                    int col = (int)(g % 320), row = (int)(g / 320 % 48);
                    x[i] = (float)(0.5 + 0.4 * Math.Sin(col * 0.37 + row * 0.11 + g / 46080 * 0.7) * Math.Cos(row * 0.2));
                }
                yield return new NamedTensor(input, x, new long[] { n, 3, 48, 320 });
            }
        }
        var sw = Stopwatch.StartNew();
        double setup = 0; // session creation, apart: the throughput ratio compares the runs
        string extra = "";
        if (method == "Plain" || method.StartsWith("Fetch-") || method == "Reduced")
        {
            using var so = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
            var sel = new CalibrationTensorSelector().Select(model);
            int k = method.StartsWith("Fetch-") ? int.Parse(method[6..]) : 0;
            var m = method == "Plain" ? model : method == "Reduced" ? AugmentedModelBuilder.BuildWithReductions(model, sel.Tensors) : AugmentedModelBuilder.Build(model, sel.Tensors, sel.KnownTypes);
            using var s = new InferenceSession(m.ToBytes(), so);
            setup = sw.Elapsed.TotalSeconds;
            var fetch = method == "Reduced" ? s.OutputNames.ToList() : model.Outputs.Select(o => o.Name).Concat(sel.Tensors.Where(t => s.OutputMetadata.ContainsKey(t) && !model.Outputs.Any(o => o.Name == t)).Take(k)).ToList();
            using var ro = new RunOptions();
            foreach (NamedTensor t in Batches())
            {
                using var v = t.ToOrtValue();
                using var r = s.Run(ro, new[] { input }, new[] { v }, fetch);
            }
            extra = $" fetched={fetch.Count}";
        }
        else
        {
            var o = new CalibrationOptions
            {
                Method = Enum.Parse<CalibrationMethod>(method), BatchSize = batch, Bins = method == "Entropy" ? 2048 : 0,
            };
            if (budget >= 0) o = o with { MaxBatchOutputBytes = budget };
            using var run = new CalibrationRun(model, o);
            setup = sw.Elapsed.TotalSeconds;
            foreach (var b in Batches()) run.Add(b);
            var table = run.Complete();
            extra = $" tensors={table.Ranges.Count}";
            // Auto: what its output check kept.
            if (table.Ranges.Select(r => r.ModelChoice).FirstOrDefault(c => c != null) is { } check) extra += $" check=\"{check}\"";
        }
        long peak = Process.GetCurrentProcess().PeakWorkingSet64;
        Console.WriteLine($"PEAK-WS model=ocr-rec method={method} samples={samples} batch={batch} budgetMiB={(budget < 0 ? "default" : (budget >> 20).ToString())} peakMiB={peak / 1048576.0:F1} seconds={sw.Elapsed.TotalSeconds:F1} setup={setup:F2} run={sw.Elapsed.TotalSeconds - setup:F2}{extra}");
        return 0;
    }
}
