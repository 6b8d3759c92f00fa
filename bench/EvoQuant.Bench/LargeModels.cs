using System.Diagnostics;
using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Support;

namespace EvoQuant.Bench;

/// <summary>Issue 21: models larger than 2 GiB (and than memory), timed per step with each step's peak
/// memory. <c>dotnet run -c Release --project bench/EvoQuant.Bench -- large-models [blocks] [steps] [folder]</c>
/// generates blocks x (MatMul 4096x4096 + Add + Relu) with external data (default 46 blocks: 3.09 GB of
/// float weights) in a temporary folder (or <c>folder</c>), runs each step in a child process of its own
/// (peak = the child's VmHWM from /proc, ONNX Runtime included) and deletes the folder after.
/// Steps: graph, minmax, entropy, static, dynamic, compare (or all; a list separated by ','); also
/// weightonly (4-bit round-to-nearest, with the check); static-nv, dynamic-nv, weightonly-nv without the ONNX Runtime check of the output,
/// and run-dynamic / run-weightonly, which load the -nv output in ONNX Runtime and run it once (the check a
/// model larger than memory gets: the quantization's own peak and the session's, each measured alone), and
/// compare-pertensor (Compare-QuantAccuracy -PerTensor, float vs static).
/// The steps do what the cmdlets do, through Core: Get-OnnxGraph, Measure-Calibration -Method MinMax/Entropy,
/// Invoke-Quantization (static QDQ from the MinMax table; -Dynamic), Compare-QuantAccuracy.</summary>
public static class LargeModels
{
    private const int Width = 4096, Rows = 16;

    public static int Run(string[] args)
    {
        int blocks = args.Length > 0 ? int.Parse(args[0]) : 46;
        string steps = args.Length > 1 ? args[1] : "all";
        string folder = args.Length > 2 ? args[2] : Path.Combine(Path.GetTempPath(), "evoquant-large-" + Environment.ProcessId);
        bool own = args.Length <= 2;
        try
        {
            var sw = Stopwatch.StartNew();
            string model = Path.Combine(folder, "large.onnx");
            if (!File.Exists(model)) LargeModelFile.Write(folder, blocks, Width);
            NpyWriter.Write(Path.Combine(folder, "x.npy"), LargeModelFile.Input(Rows, Width));
            long weights = LargeModelFile.WeightBytes(blocks, Width);
            Console.WriteLine($"{blocks} blocks, {weights / 1e9:F2} GB of float weights (written in {sw.Elapsed.TotalSeconds:F1} s); {Rows} rows of calibration");
            Console.WriteLine("step; seconds; peak GB; peak / weights");
            foreach (string step in new[] { "graph", "minmax", "entropy", "static", "static-nv", "dynamic", "dynamic-nv", "run-dynamic", "weightonly", "weightonly-nv", "run-weightonly", "compare", "compare-pertensor" })
            {
                if (steps == "all" ? step.EndsWith("-nv") || step.StartsWith("run-") || step.StartsWith("weightonly") || step == "compare-pertensor" : !steps.Split(',').Contains(step)) continue;
                var (seconds, peak, error) = Child(step, folder);
                Console.WriteLine(error != null ? $"{step}; failed: {error}" : $"{step}; {seconds:F1}; {peak / 1e9:F2}; {(double)peak / weights:F2}");
            }
        }
        finally
        {
            if (own && Directory.Exists(folder)) Directory.Delete(folder, true);
        }
        return 0;
    }

    private static (double Seconds, long Peak, string? Error) Child(string step, string folder)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true };
        // Under `dotnet bench.dll` the host needs the assembly; the apphost does not.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(typeof(LargeModels).Assembly.Location);
        psi.ArgumentList.Add("large-models-step");
        psi.ArgumentList.Add(step);
        psi.ArgumentList.Add(folder);
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        string? line = output.Split('\n').LastOrDefault(l => l.StartsWith("RESULT "));
        if (p.ExitCode != 0 || line == null) return (0, 0, (error + output).Trim().Split('\n').FirstOrDefault() ?? $"exit {p.ExitCode}");
        var parts = line.Split(' ');
        return (double.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), long.Parse(parts[2]), null);
    }

    /// <summary>One step in this process; prints "RESULT seconds peakBytes".</summary>
    public static int Step(string[] args)
    {
        string step = args[0], folder = args[1];
        string model = Path.Combine(folder, "large.onnx"), samples = Path.Combine(folder, "x.npy");
        string table = Path.Combine(folder, "minmax.json"), qdq = Path.Combine(folder, "out", "large.qdq.onnx");
        var sw = Stopwatch.StartNew();
        var m = OnnxModel.Load(model);
        switch (step)
        {
            case "graph":
                Console.WriteLine($"{m.Graph.Nodes.Count} nodes, {m.WeightBytes:N0} weight bytes");
                break;
            case "minmax" or "entropy":
            {
                var t = Calibrator.Run(m, new object[] { samples }, new CalibrationOptions
                    { Method = step == "minmax" ? CalibrationMethod.MinMax : CalibrationMethod.Entropy });
                if (step == "minmax") t.Save(table);
                break;
            }
            case "static" or "dynamic" or "weightonly" or "static-nv" or "dynamic-nv" or "weightonly-nv":
            {
                // -nv: without the ONNX Runtime check, to tell its memory from ours.
                var options = step.StartsWith("static") ? QuantizationOptions.Static(CalibrationTable.Load(table))
                    : step.StartsWith("weightonly") ? QuantizationOptions.ForWeightOnly(new() { Bits = 4 }) : QuantizationOptions.Dynamic();
                // Else the check runs on the written output before it is committed, as the cmdlet does.
                bool verify = !step.EndsWith("-nv");
                options = options with { VerifyWithRuntime = verify, VerifyWhenSaved = verify };
                string path = step == "static" ? qdq : Path.Combine(folder, "out", $"large.{step}.onnx");
                // As Invoke-Quantization does: the quantized weights go to disk as they are made.
                using var streamed = StreamedOutputData.For(path, m, ExternalDataChoice.Auto);
                var r = ModelQuantizer.Quantize(m, options with { StreamedData = streamed });
                r.Save(path, overwrite: true, verifyWithRuntime: verify);
                Console.WriteLine($"{r.FileSizeAfter:N0} bytes written");
                break;
            }
            case "run-dynamic" or "run-weightonly":
            {
                string path = Path.Combine(folder, "out", $"large.{step[4..]}-nv.onnx");
                using var file = RuntimeModelFile.For(OnnxModel.Load(path));
                if (RuntimeVerifier.TryRun(file) is string error) throw new InvalidOperationException(error);
                Console.WriteLine($"{path} loaded and run once in ONNX Runtime");
                break;
            }
            case "compare" or "compare-pertensor":
            {
                var report = AccuracyComparer.Compare(m, OnnxModel.Load(qdq), new object[] { samples }, new ComparisonOptions { PerTensor = step == "compare-pertensor" });
                Console.WriteLine($"SQNR {report.Summary.MinOutputSqnr:F1} dB");
                break;
            }
            default: throw new ArgumentException($"unknown step {step}");
        }
        Console.WriteLine(FormattableString.Invariant($"RESULT {sw.Elapsed.TotalSeconds:F2} {PeakBytes()}"));
        return 0;
    }

    // VmHWM: the resident peak of this process, native allocations (ONNX Runtime) included.
    internal static long PeakBytes()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmHWM:")) return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return Process.GetCurrentProcess().PeakWorkingSet64;
    }
}
