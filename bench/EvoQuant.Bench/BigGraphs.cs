using System.Diagnostics;
using EvoQuant.Calibration;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Support;

namespace EvoQuant.Bench;

/// <summary>Issue 16's pathological sizes, timed through Core:
/// <c>dotnet run -c Release --project bench/EvoQuant.Bench -- big-graphs [scale] [graph] [phases]</c>
/// (graph: a name prefix or all; phases: label prefixes separated by ';', or all).
/// Graphs (see <see cref="LargeGraphs"/>): 100,000 unused initializers, a chain of 100,000 Relu, 30,000
/// tiny MatMuls (times <c>scale</c>, default 1). For each: Dynamic quantization with and without the
/// ONNX Runtime check, MinMax calibration on one [1, 4] sample, and ONNX Runtime session creation alone
/// (outside our control) so our own passes can be read apart from it.</summary>
public static class BigGraphs
{
    public static int Run(string[] args)
    {
        double scale = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 1;
        string which = args.Length > 1 ? args[1] : "all";
        string phases = args.Length > 2 ? args[2] : "all";
        var graphs = new (string Name, Func<OnnxModel> Build)[]
        {
            ("unused initializers", () => LargeGraphs.UnusedInitializers((int)(100_000 * scale))),
            ("relu chain", () => LargeGraphs.ReluChain((int)(100_000 * scale))),
            ("matmuls", () => LargeGraphs.MatMulChain((int)(30_000 * scale))),
        };
        _phases = phases;
        Console.WriteLine($"scale {scale}; times in seconds");
        foreach (var (name, build) in graphs)
        {
            if (which != "all" && !name.StartsWith(which, StringComparison.OrdinalIgnoreCase)) continue;
            var sw = Stopwatch.StartNew();
            var model = build();
            Console.WriteLine($"{name}: {model.Proto.Graph.Node.Count} nodes, {model.Proto.Graph.Initializer.Count} initializers (built in {sw.Elapsed.TotalSeconds:F2})");
            Time("  session creation (ORT)", () =>
            {
                using var o = new Microsoft.ML.OnnxRuntime.SessionOptions();
                using var s = new Microsoft.ML.OnnxRuntime.InferenceSession(model.ToBytes(), o);
            });
            Time("  dynamic, no ORT check", () => ModelQuantizer.Quantize(model, QuantizationOptions.Dynamic() with { VerifyWithRuntime = false }));
            Time("  dynamic (with ORT check)", () => ModelQuantizer.Quantize(model, QuantizationOptions.Dynamic()));
            Time("  ORT check of the dynamic output, per optimization level", () => CheckLevels(model));
            Time("  tensor selection", () => new CalibrationTensorSelector().Select(model));
            Time("  ORT alone: reduced session + 1 run", () => OrtReduced(model));
            Time("  calibration MinMax", () => Calibrator.Run(model, new object[] { LargeGraphs.Input() }, new CalibrationOptions { Method = CalibrationMethod.MinMax }));
        }
        return 0;
    }

    // The MinMax calibration's ONNX Runtime work without ours: the in-graph reduction model's session and one run.
    private static void OrtReduced(OnnxModel model)
    {
        var sel = new CalibrationTensorSelector().Select(model);
        var reduced = AugmentedModelBuilder.BuildWithReductions(model, sel.Tensors.Where(t => t != "x"));
        var sw = Stopwatch.StartNew();
        using var o = new Microsoft.ML.OnnxRuntime.SessionOptions { GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var s = new Microsoft.ML.OnnxRuntime.InferenceSession(reduced.ToBytes(), o);
        Console.Write($"    (session {sw.Elapsed.TotalSeconds:F2}, ");
        sw.Restart();
        var input = LargeGraphs.Input();
        using var x = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory((float[])input.Data, new long[] { 1, LargeGraphs.Width });
        var outputs = s.OutputMetadata.Keys.ToList();
        using var r = s.Run(new Microsoft.ML.OnnxRuntime.RunOptions(), new[] { "x" }, new[] { x }, outputs);
        Console.WriteLine($"run with {outputs.Count} outputs {sw.Elapsed.TotalSeconds:F2})");
    }

    // ONNX Runtime's check of the quantized model (session creation and one run), at each graph optimization level.
    private static void CheckLevels(OnnxModel model)
    {
        var quantized = ModelQuantizer.Quantize(model, QuantizationOptions.Dynamic() with { VerifyWithRuntime = false }).Model;
        using var file = RuntimeModelFile.For(quantized.ForRuntime());
        foreach (var level in Environment.GetEnvironmentVariable("BIG_GRAPHS_PROBE") != null ? Array.Empty<Microsoft.ML.OnnxRuntime.GraphOptimizationLevel>() : new[] { Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL, Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL })
        {
            var sw = Stopwatch.StartNew();
            using var o = new Microsoft.ML.OnnxRuntime.SessionOptions { GraphOptimizationLevel = level, LogSeverityLevel = Microsoft.ML.OnnxRuntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
            o.AddSessionConfigEntry("session.disable_prepacking", "1");
            using var s = file.Open(o);
            double created = sw.Elapsed.TotalSeconds;
            var input = LargeGraphs.Input();
            using var x = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory((float[])input.Data, new long[] { 1, LargeGraphs.Width });
            using var r = s.Run(new Microsoft.ML.OnnxRuntime.RunOptions(), new[] { "x" }, new[] { x }, s.OutputMetadata.Keys.ToList());
            Console.WriteLine($"    {level}: session {created:F2}, run {sw.Elapsed.TotalSeconds - created:F2}");
            if (sw.Elapsed.TotalSeconds > 60) break; // the levels run in order of cost
        }
        // BIG_GRAPHS_PROBE=<path prefix>: skip the levels, save the quantized model there and time session creation
        // with and without prepacking (BIG_GRAPHS_VARIANTS: plain; no-prepacking; all-levels; all-levels no-prepacking).
        if (Environment.GetEnvironmentVariable("BIG_GRAPHS_PROBE") is string probe)
        {
            quantized.Save(probe + ".onnx");
            foreach (var variant in (Environment.GetEnvironmentVariable("BIG_GRAPHS_VARIANTS") ?? "plain;no-prepacking;all-levels;all-levels no-prepacking").Split(';'))
            {
                var sw = Stopwatch.StartNew();
                using var o = new Microsoft.ML.OnnxRuntime.SessionOptions { GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL, LogSeverityLevel = Microsoft.ML.OnnxRuntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
                if (variant.Contains("no-prepacking")) o.AddSessionConfigEntry("session.disable_prepacking", "1");
                if (variant.StartsWith("all-levels")) o.GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL;
                using var s = file.Open(o);
                Console.WriteLine($"    DISABLE_ALL {variant}: session {sw.Elapsed.TotalSeconds:F2}");
            }
        }
    }

    private static string _phases = "all";

    private static void Time(string label, Action a)
    {
        if (_phases != "all" && !_phases.Split(';').Any(p => label.Trim().StartsWith(p, StringComparison.OrdinalIgnoreCase))) return;
        var sw = Stopwatch.StartNew();
        try { a(); Console.WriteLine($"{label}: {sw.Elapsed.TotalSeconds:F2}"); }
        catch (Exception e) { Console.WriteLine($"{label}: failed after {sw.Elapsed.TotalSeconds:F2}: {e.GetType().Name}: {e.Message.Split('\n')[0]}"); }
    }
}
