using System.Diagnostics;
using System.Globalization;
using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Targets;
using EvoQuant.Tests.Support;

namespace EvoQuant.Bench;

/// <summary>
/// Speed-aware quantization (`dotnet run -c Release --project bench/EvoQuant.Bench -- speed-aware [rounds] [model]`):
/// the PaddleOCR direction classifier (MinMax on 51 of the 102 text-line crops, evaluated on all 102) and fashion-cnn
/// (Percentile on its 200 calibration images, per channel, evaluated on the 2000 test images), each quantized with the
/// host's static QDQ defaults without and with <see cref="QuantizationOptions.KeepSlowNodesFloat"/> (profiled on the
/// calibration samples). Per variant: agreement and output SQNR (Compare-QuantAccuracy's figures), the nodes kept float,
/// the time the profiling took, then [rounds] <see cref="SpeedComparer.Measure"/> rounds (batch 1 and 64, interleaved pairs, up to 300 pairs or 3 s per batch size).
/// </summary>
public static class SpeedAwareCheck
{
    public static int Run(string[] args)
    {
        int rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        string which = args.Length > 1 ? args[1] : "all";
        var cpu = HostCpu.Current;
        Console.WriteLine($"CPU: {cpu.Model}; {cpu.InstructionSetText}; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        Console.WriteLine("| model | variant | kept float | quantize s | agreement | SQNR dB | round | batch 1 speedup | batch 64 speedup |");
        Console.WriteLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        var host = TargetProfile.Resolve(QuantTarget.Host);
        if (which is "all" or "cls")
        {
            var model = OnnxModel.Load(TestData.Require(TestData.OcrCls));
            var (data, count) = TextLineCrops.Load();
            int half = count / 2;
            var all = new NamedTensor(model.Inputs[0].Name, data, new long[] { count, 3, TextLineCrops.H, TextLineCrops.W });
            var calib = all.SliceRows(0, half);
            var table = Calibrator.Run(model, new object[] { calib }, new CalibrationOptions { Method = CalibrationMethod.MinMax, BatchSize = 16 });
            var options = host.StaticDefaults() with { ActivationRanges = QuantizationOptions.RangesOf(table), UseContribOps = true };
            var timing = all; // 102 rows: batch 64 takes the first 64
            Compare("PaddleOCR cls", model, options, new object[] { calib }, new object[] { all }, new object[] { timing }, null, rounds);
            Compare("PaddleOCR cls, per channel", model, options with { PerChannel = true }, new object[] { calib }, new object[] { all }, new object[] { timing }, null, rounds);
        }
        if (which is "all" or "fashion")
        {
            string models = BenchFiles.SharedModels;
            var model = OnnxModel.Load(Path.Combine(models, "fashion-cnn.onnx"));
            var calib = new object[] { Path.Combine(models, "fashion-calib-200.x.npy") };
            var table = Calibrator.Run(model, calib, new CalibrationOptions { Method = CalibrationMethod.Percentile, Symmetric = false });
            var options = host.StaticDefaults() with { ActivationRanges = QuantizationOptions.RangesOf(table), PerChannel = true };
            var test = new object[] { Path.Combine(models, "fashion-test-2000.x.npy") };
            var labels = LabelFile.FromNpy(Path.Combine(models, "fashion-test-2000.y.npy"));
            Compare("fashion-cnn, per channel", model, options, calib, test, test, labels, rounds);
        }
        return 0;
    }

    private static void Compare(string name, OnnxModel model, QuantizationOptions options, object[] calib, object[] eval, object[] timing, IReadOnlyList<long>? labels, int rounds)
    {
        var made = new List<(string Variant, QuantizationResult Q, double Seconds, int Kept, AccuracySummary A)>();
        foreach (bool aware in new[] { false, true })
        {
            var clock = Stopwatch.StartNew();
            var o = aware ? options with { KeepSlowNodesFloat = true, SpeedAware = new SpeedAwareOptions { Samples = timing } } : options;
            var q = ModelQuantizer.Quantize(model, o);
            double seconds = clock.Elapsed.TotalSeconds;
            foreach (var d in q.TargetDecisions.Where(d => d.StartsWith("kept float:", StringComparison.Ordinal) || d.StartsWith("speed-aware", StringComparison.Ordinal)))
                Console.Error.WriteLine($"  [{name}] {d}");
            var a = AccuracyComparer.Compare(model, q.Model, eval, new ComparisonOptions { Labels = labels }).Summary;
            made.Add((aware ? "KeepSlowNodesFloat" : "default", q, seconds, q.TargetDecisions.Count(d => d.StartsWith("kept float:", StringComparison.Ordinal)), a));
        }
        var speed = new SpeedOptions { MaxPairs = 300, TimeBudget = TimeSpan.FromSeconds(3) };
        for (int r = 1; r <= rounds; r++)
        {
            foreach (var m in made)
            {
                var s = SpeedComparer.Measure(model, m.Q.Model, timing, speed);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name} | {m.Variant} vs float | {m.Kept} | {m.Seconds:F1} | {m.A.Top1Agreement:F2}% | {m.A.MinOutputSqnr:F1} | {r} | {s.LatencySpeedup:F2}x | {s.Speedup:F2}x |"));
            }
            // The two quantized models against each other, in one paired run.
            var d = SpeedComparer.Measure(made[0].Q.Model, made[1].Q.Model, timing, speed);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | KeepSlowNodesFloat vs default | | | | | {r} | {d.LatencySpeedup:F2}x | {d.Speedup:F2}x |"));
        }
    }
}
