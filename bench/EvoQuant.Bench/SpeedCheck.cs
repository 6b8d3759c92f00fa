using EvoQuant.Targets;
using System.Globalization;
using EvoQuant.Calibration;
using EvoQuant.Evaluation;
using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Quantization;

namespace EvoQuant.Bench;

/// <summary>
/// Speed and accuracy of the choices a target makes (`dotnet run -c Release --project bench/EvoQuant.Bench --
/// speed [rounds] [threads]`): fashion-cnn float against its static QDQ models as EvoQuant's defaults make them
/// for this CPU (-Target Host: per tensor and per channel, QDQ and QOperator), ONNX Runtime's documented
/// default (S8S8 QDQ, full 8-bit weights), and uint8 activations with 7-bit weights (reduce range). Each
/// round is one <see cref="SpeedComparer.Measure"/> with the cmdlet's defaults (batch 1 and 64, up to 100
/// interleaved pairs or 2 s per batch size); accuracy is Compare-QuantAccuracy's on the 2000 test images.
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
        var ranges = QuantizationOptions.RangesOf(table);
        var host = TargetProfile.Resolve(QuantTarget.Host);
        var defaults = host.StaticDefaults() with { ActivationRanges = ranges };
        var variants = new (string Name, QuantizationOptions Options)[]
        {
            ($"EvoQuant default ({host.Resolved})", defaults),
            ($"EvoQuant default, per channel", defaults with { PerChannel = true }),
            ($"EvoQuant default, QOperator", defaults with { Format = QuantFormat.QOperator }),
            ($"EvoQuant default, QOperator per channel", defaults with { Format = QuantFormat.QOperator, PerChannel = true }),
            ("ORT default (S8S8 QDQ)", QuantizationOptions.Static(ranges) with { WeightSaturation = SaturationGuard.None }),
            ("QUInt8 + ReduceRange, per channel", defaults with { PerChannel = true, ReduceRange = true }),
        };
        var items = new object[] { Path.Combine(models, "fashion-test-2000.x.npy") };
        var labels = LabelFile.FromNpy(Path.Combine(models, "fashion-test-2000.y.npy"));
        var cpu = HostCpu.Current;
        Console.WriteLine($"CPU: {cpu.Model}; {cpu.InstructionSetText} ({cpu.InstructionSetSource}); {cpu.LogicalProcessors} logical, {cpu.PhysicalCores} physical cores");
        Console.WriteLine();
        Console.WriteLine("| candidate | top-1 (float 91.25%) | agreement | SQNR dB | round | threads | batch 1 float / quant ms (IQR) | speedup | batch 64 float / quant ms (IQR) | speedup |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: |");
        foreach (var (name, options) in variants)
        {
            var q = ModelQuantizer.Quantize(model, options).Model;
            var a = AccuracyComparer.Compare(model, q, items, new ComparisonOptions { Labels = labels }).Summary;
            for (int r = 1; r <= rounds; r++)
            {
                var s = SpeedComparer.Measure(model, q, items, new SpeedOptions { Threads = threads });
                string Ms(TimingStats t) => string.Create(CultureInfo.InvariantCulture, $"{t.Median:F3} ({t.Iqr:F3})");
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name} | {a.CandidateAccuracy:F2}% | {a.Top1Agreement:F2}% | {a.MinOutputSqnr:F1} | {r} | {s.Threads} | {Ms(s.Latency.Reference)} / {Ms(s.Latency.Candidate)} | {s.LatencySpeedup:F2}x | {Ms(s.Throughput.Reference)} / {Ms(s.Throughput.Candidate)} | {s.Speedup:F2}x |"));
            }
        }
        return 0;
    }
}
