using System.Diagnostics;
using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Bench;

/// <summary>Where calibration time goes, phase by phase, in one process (so ratios compare like with like):
/// <c>dotnet run -c Release --project bench/EvoQuant.Bench -- calib-profile [samples] [repeats]</c>.
/// Phases: npy reading alone, plain inference (optimizations off), the augmented session with a calibrator
/// that ignores the values (ORT + fetching), and full calibration per method. Session creation is timed apart.</summary>
public static class CalibrationProfile
{
    private sealed class Capture(CalibrationSettings s) : ICalibrator
    {
        public readonly List<(string, float[])> Values = new();
        public CalibrationSettings Settings => s;
        public void Update(string tensor, ReadOnlySpan<float> values) => Values.Add((tensor, values.ToArray()));
        public void Merge(ICalibrator other) { }
        public IReadOnlyList<TensorRange> ComputeRanges() => Array.Empty<TensorRange>();
    }

    private sealed class Ignore(CalibrationSettings s) : ICalibrator
    {
        public CalibrationSettings Settings => s;
        public void Update(string tensor, ReadOnlySpan<float> values) { }
        public void Merge(ICalibrator other) { }
        public IReadOnlyList<TensorRange> ComputeRanges() => Array.Empty<TensorRange>();
    }

    public static int Run(string[] args)
    {
        int samples = args.Length > 0 ? int.Parse(args[0]) : 1000;
        int repeats = args.Length > 1 ? int.Parse(args[1]) : 5;
        string root = BenchFiles.Root;
        var model = OnnxModel.Load(Path.Combine(root, "..", "shared", "models", "fashion-cnn.onnx"));
        string data = Path.Combine(Path.GetTempPath(), $"evoquant-profile-{Environment.ProcessId}.npy");
        NpyWriter.Write(data, NpyReader.ReadRows(Path.Combine(root, "..", "shared", "models", "fashion-test-2000.x.npy"), samples).First());
        const int Batch = 32;
        try
        {
            var results = new Dictionary<string, List<double>>();
            void Time(string name, Action a)
            {
                var sw = Stopwatch.StartNew();
                a();
                if (!results.TryGetValue(name, out var l)) results[name] = l = new();
                l.Add(sw.Elapsed.TotalMilliseconds);
            }
            var sel0 = new CalibrationTensorSelector().Select(model);
            var cap = new Capture(new CalibrationSettings { Method = CalibrationMethod.Entropy });
            using (var s0 = new CalibrationSession(model, sel0))
                s0.Run(new Dictionary<string, NamedTensor> { [model.Inputs[0].Name] = NpyReader.ReadRows(data, Batch).First().WithName(model.Inputs[0].Name) }, cap);
            Console.WriteLine($"tensors {cap.Values.Count}, values per batch of {Batch}: {cap.Values.Sum(v => (long)v.Item2.Length)}; largest: {string.Join(" ", cap.Values.Select(v => v.Item2.Length).OrderDescending().Take(6))}");
            int batches = (samples + Batch - 1) / Batch;
            for (int r = 0; r < repeats + 1; r++)
            {
                foreach (var (hn, hs) in new[] { ("hist only: Entropy2048", new CalibrationSettings { Method = CalibrationMethod.Entropy, Bins = 2048 }),
                    ("hist only: Entropy128", new CalibrationSettings { Method = CalibrationMethod.Entropy }),
                    ("minmax only", new CalibrationSettings()) })
                {
                    var cal = Calibrator.Create(hs);
                    Time(hn, () => { for (int b = 0; b < batches; b++) foreach (var (t, v) in cap.Values) cal.Update(t, v); });
                    Time(hn + " ranges", () => cal.ComputeRanges());
                    var par = Calibrator.Create(hs);
                    Time(hn + " parallel", () => { for (int b = 0; b < batches; b++) Parallel.ForEach(cap.Values, tv => par.Update(tv.Item1, tv.Item2)); });
                }
                Time("npy read", () => { foreach (var c in NpyReader.ReadRows(data, Batch)) GC.KeepAlive(c); });
                foreach (var (spin, threads) in new[] { (true, 0), (false, 0), (true, 1) })
                {
                    InferenceSession plain = null!;
                    string tag = threads == 1 ? "plain 1 thread" : spin ? "plain" : "plain no-spin";
                    var so = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
                    if (!spin) so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
                    if (threads > 0) so.IntraOpNumThreads = threads;
                    Time(tag + ": session", () => plain = new InferenceSession(model.ToBytes(), so));
                    Time(tag + ": run", () =>
                    {
                        string input = model.Inputs[0].Name;
                        using var ro = new RunOptions();
                        foreach (var chunk in NpyReader.ReadRows(data, Batch))
                        {
                            using var v = chunk.ToOrtValue();
                            using var o = plain.Run(ro, new[] { input }, new[] { v }, plain.OutputNames);
                        }
                    });
                    plain.Dispose();
                }
                var sel = new CalibrationTensorSelector().Select(model);
                // What not fetching the shared histograms' tensors saves ORT (Entropy leaves them out).
                var followerNames = ClampFollowers.Plan(model, sel.Tensors).Select(f => f.Tensor).ToHashSet();
                var selNoFollowers = sel with { Tensors = sel.Tensors.Where(t => !followerNames.Contains(t)).ToList() };
                foreach (var (reduce, nf) in new[] { (true, false), (false, false), (false, true) })
                {
                    CalibrationSession s = null!;
                    string tag = reduce ? "augmented+reduce" : nf ? "augmented no followers" : "augmented";
                    Time(tag + ": session", () => s = new CalibrationSession(model, nf ? selNoFollowers : sel, 0, reduce));
                    var ignore = new Ignore(new CalibrationSettings { Method = CalibrationMethod.Entropy });
                    var mm = new MinMaxCalibrator(new CalibrationSettings());
                    Time(tag + ": run", () =>
                    {
                        foreach (var chunk in NpyReader.ReadRows(data, Batch))
                            s.Run(new Dictionary<string, NamedTensor> { [model.Inputs[0].Name] = chunk.WithName(model.Inputs[0].Name) }, reduce ? mm : ignore);
                    });
                    s.Dispose();
                }
                foreach (var (name, o) in new[]
                {
                    ("MinMax", new CalibrationOptions { BatchSize = Batch }),
                    ("Entropy2048", new CalibrationOptions { BatchSize = Batch, Method = CalibrationMethod.Entropy, Bins = 2048 }),
                    ("Entropy2048 unshared", new CalibrationOptions { BatchSize = Batch, Method = CalibrationMethod.Entropy, Bins = 2048, ShareClampedHistograms = false }),
                    ("Entropy128", new CalibrationOptions { BatchSize = Batch, Method = CalibrationMethod.Entropy }),
                    ("Percentile", new CalibrationOptions { BatchSize = Batch, Method = CalibrationMethod.Percentile }),
                })
                {
                    CalibrationRun run = null!;
                    Time(name + ": session", () => run = new CalibrationRun(model, o));
                    var clock = new Stopwatch();
                    Time(name + ": run", () => { run.Add(data); clock.Start(); run.Complete(); clock.Stop(); });
                    // Of which the ranges (the threshold searches) and the table, after the last batch.
                    if (!results.TryGetValue(name + ": complete", out var done)) results[name + ": complete"] = done = new();
                    done.Add(clock.Elapsed.TotalMilliseconds);
                    run.Dispose();
                }
            }
            // The samples' streaming alone (run minus complete): what samples/s measures. The searches in complete
            // are a fixed cost per calibration, as session creation is, whatever the number of samples.
            foreach (var name in results.Keys.Where(k => k.EndsWith(": complete")).Select(k => k[..^": complete".Length]).ToList())
                results[name + ": streaming"] = results[name + ": run"].Zip(results[name + ": complete"], (r, c) => r - c).ToList();
            // Ratios per repeat (phases of one repeat ran back to back), then their median: the machine is shared.
            foreach (var (k, v) in results)
            {
                double m = BenchFiles.Median(v.Skip(1));
                double r1 = BenchFiles.Median(v.Skip(1).Select((x, i) => x / results["plain: run"][i + 1]));
                double r2 = BenchFiles.Median(v.Skip(1).Select((x, i) => x / results["plain no-spin: run"][i + 1]));
                Console.WriteLine($"{k,-28} median {m,8:F1} ms  {r1,5:F2}x plain  {r2,5:F2}x plain no-spin   all: {string.Join(" ", v.Skip(1).Select(x => x.ToString("F0")))}");
            }
        }
        finally { File.Delete(data); }
        return 0;
    }
}
