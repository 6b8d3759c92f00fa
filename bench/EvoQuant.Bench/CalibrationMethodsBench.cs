using System.Diagnostics;
using System.Globalization;
using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Targets;
using EvoQuant.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EvoQuant.Bench;

/// <summary>Issue 20's bar for Method = Auto (`dotnet run -c Release --project bench/EvoQuant.Bench --
/// calibration-methods [only METHOD [fashion|cls]|memory METHOD N]`). accuracy: fashion-cnn (calibrated on its 200 calibration
/// images, evaluated on the 2000 test images) and PaddleOCR's direction classifier (102 real text-line crops,
/// calibrated on the first 51, evaluated on all), static QDQ per channel with this CPU's defaults, ranges from
/// MinMax, Entropy, Percentile and Auto each at the defaults Measure-Calibration -Method gives: top-1 against
/// the labels, agreement with the float model and output SQNR; for Auto, which methods it chose and its output check
/// (EVOQUANT_BENCH_CHOICES=1 prints each tensor's choice and why to stderr). memory: one
/// calibration of fashion-cnn on N of the 2000 test images (batch 50) in this process, its peak working set;
/// run each N in its own process.</summary>
public static class CalibrationMethodsBench
{
    private static CalibrationMethod[] s_methods = Methods;

    // EVOQUANT_BENCH_SEARCHROWS: rows EQ searches on and Auto checks its output on (default 64).
    private static readonly int? s_searchRows = int.TryParse(Environment.GetEnvironmentVariable("EVOQUANT_BENCH_SEARCHROWS"), out int rows) ? rows : null;

    private static readonly CalibrationMethod[] Methods =
        { CalibrationMethod.MinMax, CalibrationMethod.Entropy, CalibrationMethod.Percentile, CalibrationMethod.Auto, CalibrationMethod.EQ };

    public static int Run(string[] args)
    {
        if (args is ["memory", var method, var n]) return Memory(Enum.Parse<CalibrationMethod>(method), int.Parse(n, CultureInfo.InvariantCulture));
        var only = args is ["only", var m, ..] ? Enum.Parse<CalibrationMethod>(m) : (CalibrationMethod?)null;
        if (only != null) s_methods = new[] { only.Value };
        // A third word names one model: fashion or cls.
        string? model = args is ["only", _, var which] ? which : null;
        Console.WriteLine("| model | method | top-1 | agreement with float | output SQNR (dB) | Auto's choice / EQ's search |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
        if (model is null or "fashion") Fashion();
        if (model is null or "cls") OcrCls();
        return 0;
    }

    private static void Fashion()
    {
        string dir = BenchFiles.SharedModels;
        var model = OnnxModel.Load(Path.Combine(dir, "fashion-cnn.onnx"));
        var test = NpyReader.Read(Path.Combine(dir, "fashion-test-2000.x.npy"));
        var labels = NpyReader.Read(Path.Combine(dir, "fashion-test-2000.y.npy"));
        var truth = ((long[])labels.Data).Select(v => (int)v).ToArray();
        Compare("fashion-cnn", model, new object[] { Path.Combine(dir, "fashion-calib-200.x.npy") }, test.ToFloatArray(), ToInt(test.GetShape()), truth, perChannelContrib: false);
    }

    private static void OcrCls()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.OcrCls));
        var (data, count) = TextLineCrops.Load();
        int size = 3 * TextLineCrops.H * TextLineCrops.W, half = count / 2;
        var calib = new NamedTensor(model.Inputs[0].Name, data[..(half * size)], new long[] { half, 3, TextLineCrops.H, TextLineCrops.W });
        // Crops alternate upright (class 0, "0") and turned 180 degrees (class 1, "180").
        var truth = Enumerable.Range(0, count).Select(i => i % 2).ToArray();
        // Opset 9: per-channel DequantizeLinear needs the com.microsoft domain.
        Compare("PaddleOCR cls (mobile v2.0)", model, new object[] { calib }, data, new[] { count, 3, TextLineCrops.H, TextLineCrops.W }, truth, perChannelContrib: true, heldOutFrom: half);
    }

    private static void Compare(string name, OnnxModel model, object[] calib, float[] x, int[] shape, int[] truth, bool perChannelContrib, int heldOutFrom = 0)
    {
        var reference = Outputs(model, x, shape);
        int classes = reference.Length / shape[0];
        var refTop = Top1(reference, classes);
        Console.WriteLine($"| {name} | float | {Percent(Hits(refTop, truth), truth.Length)} | | | |");
        var defaults = TargetProfile.Resolve(QuantTarget.Host).StaticDefaults();
        var format = defaults with { PerChannel = true, UseContribOps = perChannelContrib };
        var runs = s_methods.Select(m => (Label: m.ToString(), Method: m, Base: (CalibrationMethod?)null)).ToList();
        if (s_methods.Contains(CalibrationMethod.EQ)) runs.Add(("EQ over Auto", CalibrationMethod.EQ, CalibrationMethod.Auto));
        foreach (var (label, method, searchBase) in runs)
        {
            var sw = Stopwatch.StartNew();
            var table = Calibrator.Run(model, calib, new CalibrationOptions { Method = method, BatchSize = 16, SearchQuantization = format, SearchBase = searchBase, SearchRows = s_searchRows });
            double seconds = sw.Elapsed.TotalSeconds;
            var options = format.WithCalibration(table);
            var q = ModelQuantizer.Quantize(model, options);
            var outputs = Outputs(q.Model, x, shape);
            var top = Top1(outputs, classes);
            string chose = method == CalibrationMethod.Auto ? AutoSummary(table, seconds)
                : method == CalibrationMethod.EQ ? EqSummary(table, seconds) : "";
            // EVOQUANT_BENCH_CHOICES=1: each tensor's method and why (Auto, EQ).
            if (Environment.GetEnvironmentVariable("EVOQUANT_BENCH_CHOICES") == "1")
                foreach (var r in table.Ranges.Where(r => r.Choice != null)) Console.Error.WriteLine($"{r.Tensor}\t{r.Choice}");
            // Calibrated on the first rows (the classifier): the SQNR of the rows not calibrated on, apart.
            if (heldOutFrom > 0)
            {
                int from = heldOutFrom * classes;
                chose = FormattableString.Invariant($"held-out rows only: {ErrorMetrics.Sqnr(reference.AsSpan(from), outputs.AsSpan(from)):F2} dB, calibration rows {ErrorMetrics.Sqnr(reference.AsSpan(0, from), outputs.AsSpan(0, from)):F2} dB") + (chose.Length > 0 ? "; " + chose : "");
            }
            Console.WriteLine(FormattableString.Invariant(
                $"| {name} | {label} | {Percent(Hits(top, truth), truth.Length)} | {Hits(top, refTop)}/{truth.Length} | {ErrorMetrics.Sqnr(reference, outputs):F2} | {chose} |"));
        }
    }

    // Methods per tensor, the output check's decision (what was kept, each candidate's output SQNR on the calibration rows), the time.
    private static string AutoSummary(CalibrationTable table, double seconds)
    {
        string methods = string.Join(", ", table.Ranges.GroupBy(r => r.Method).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}"));
        var check = table.Ranges.Select(r => r.ModelChoice).FirstOrDefault(c => c != null);
        return FormattableString.Invariant($"{methods}; {check?.ToString() ?? "no output check"}, {seconds:F0} s");
    }

    // Searched tensors, how many moved off the base range, the factors, the mean layer cosine before and after.
    private static string EqSummary(CalibrationTable table, double seconds)
    {
        var s = table.Ranges.Where(r => r.Search != null).Select(r => r.Search!).ToList();
        if (s.Count == 0) return "nothing searched";
        var w = s.SelectMany(x => x.Weights).ToList();
        string weights = w.Count == 0 ? "" : FormattableString.Invariant(
            $"; {w.Count} weights searched, {w.Count(x => x.Factor != 1f)} moved (x{w.Min(x => x.Factor):0.##}..x{w.Max(x => x.Factor):0.##})");
        return FormattableString.Invariant(
            $"{s.Count} searched, {s.Count(x => x.Factor != 1f)} moved (x{s.Min(x => x.Factor):0.##}..x{s.Max(x => x.Factor):0.##}){weights}, mean layer cosine {s.Average(x => x.BaseCosine):F5} -> {s.Average(x => x.Cosine):F5}, {seconds:F0} s");
    }

    private static int Memory(CalibrationMethod method, int samples)
    {
        string dir = BenchFiles.SharedModels;
        var model = OnnxModel.Load(Path.Combine(dir, "fashion-cnn.onnx"));
        var test = NpyReader.Read(Path.Combine(dir, "fashion-test-2000.x.npy"));
        var sw = Stopwatch.StartNew();
        var table = Calibrator.Run(model, new object[] { test.SliceRows(0, samples) }, new CalibrationOptions { Method = method, BatchSize = 50 });
        long peak = Process.GetCurrentProcess().PeakWorkingSet64;
        Console.WriteLine(FormattableString.Invariant(
            $"PEAK-WS model=fashion-cnn method={method} samples={table.SampleCount} peakMiB={peak / 1048576.0:F1} seconds={sw.Elapsed.TotalSeconds:F1} tensors={table.Count}"));
        return 0;
    }

    private static float[] Outputs(OnnxModel model, float[] x, int[] shape)
    {
        using var session = new InferenceSession(model.ToBytes());
        string input = session.InputMetadata.Keys.Single();
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(input, new DenseTensor<float>(x, shape)) });
        return results.First().AsTensor<float>().ToArray();
    }

    private static int[] Top1(float[] y, int classes)
    {
        var top = new int[y.Length / classes];
        for (int i = 0; i < top.Length; i++)
        {
            var row = y.AsSpan(i * classes, classes);
            top[i] = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(row);
        }
        return top;
    }

    private static int Hits(int[] a, int[] b) => a.Zip(b).Count(p => p.First == p.Second);

    private static string Percent(int hits, int n) => FormattableString.Invariant($"{100.0 * hits / n:F2}%");

    private static int[] ToInt(long[] shape) => shape.Select(d => (int)d).ToArray();
}
