using EvoQuant.Targets;
using System.Globalization;
using EvoQuant.Calibration;
using EvoQuant.Evaluation;
using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Quantization;

namespace EvoQuant.Bench;

/// <summary>
/// What Compare-QuantAccuracy's timing reports, on the README's main job (`dotnet run -c Release --project
/// bench/EvoQuant.Bench -- speed [rounds] [threads]`): fashion-cnn float against its static QDQ int8 model
/// as the README pipeline makes it (Percentile calibration, asymmetric activations, per-channel weights),
/// and the same with uint8 activations and reduced-range weights (-ActivationType QUInt8 -ReduceRange).
/// Each round is one <see cref="SpeedComparer.Measure"/> with the cmdlet's defaults (batch 1 and 64, up to
/// 100 interleaved pairs or 2 s per batch size); several rounds show how much the speedup moves between runs.
/// </summary>
public static class SpeedCheck
{
    public static int Run(string[] args)
    {
        int rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        int threads = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 0;
        string models = BenchFiles.SharedModels;
        var model = OnnxModel.Load(Path.Combine(models, "fashion-cnn.onnx"));
        var table = Calibrator.Run(model, new object[] { Path.Combine(models, "fashion-calib-200.x.npy") },
            new CalibrationOptions { Method = CalibrationMethod.Percentile, Symmetric = false });
        var ranges = QuantizationOptions.Static(table) with { PerChannel = true };
        var variants = new (string Name, QuantizationOptions Options)[]
        {
            ("int8 (README job)", ranges),
            ("QUInt8 + ReduceRange", ranges with { ActivationType = QuantType.UInt8, ReduceRange = true }),
        };
        var items = new object[] { Path.Combine(models, "fashion-test-2000.x.npy") };
        var cpu = HostCpu.Current;
        Console.WriteLine($"CPU: {cpu.Model}; {cpu.InstructionSetText} ({cpu.InstructionSetSource}); {cpu.LogicalProcessors} logical, {cpu.PhysicalCores} physical cores");
        Console.WriteLine();
        Console.WriteLine("| candidate | round | threads | batch 1 float / quant ms (IQR) | speedup | batch 64 float / quant ms (IQR) | speedup | float / quant img/s | pairs |");
        Console.WriteLine("| --- | ---: | ---: | --- | ---: | --- | ---: | --- | --- |");
        foreach (var (name, options) in variants)
        {
            var q = ModelQuantizer.Quantize(model, options).Model;
            for (int r = 1; r <= rounds; r++)
            {
                var s = SpeedComparer.Measure(model, q, items, new SpeedOptions { Threads = threads });
                string Ms(TimingStats t) => string.Create(CultureInfo.InvariantCulture, $"{t.Median:F3} ({t.Iqr:F3})");
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name} | {r} | {s.Threads} | {Ms(s.Latency.Reference)} / {Ms(s.Latency.Candidate)} | {s.LatencySpeedup:F2}x | {Ms(s.Throughput.Reference)} / {Ms(s.Throughput.Candidate)} | {s.Speedup:F2}x | {s.Throughput.ReferenceRowsPerSecond:F0} / {s.Throughput.CandidateRowsPerSecond:F0} | {s.Latency.Pairs} / {s.Throughput.Pairs} |"));
            }
        }
        return 0;
    }
}
