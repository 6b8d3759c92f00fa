using System.Globalization;
using EvoQuant.Calibration;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Targets;

namespace EvoQuant.Bench;

/// <summary>
/// The accuracy effect of ADMM weight scales and of stochastic rounding (`dotnet run -c Release --project
/// bench/EvoQuant.Bench -- weight-numerics [seeds]`): fashion-cnn static QDQ per channel (MinMax ranges) and
/// dynamic, top-1 on the 2000 test images and output SQNR, MaxAbs against ADMM, and round-to-nearest against
/// stochastic rounding as mean and spread over seeds. Accuracy only: the file and the kernels are the same.
/// </summary>
public static class WeightNumericsCheck
{
    public static int Run(string[] args)
    {
        int seeds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        string models = BenchFiles.SharedModels;
        var model = OnnxModel.Load(Path.Combine(models, "fashion-cnn.onnx"));
        var table = Calibrator.Run(model, new object[] { Path.Combine(models, "fashion-calib-200.x.npy") }, new CalibrationOptions { Method = CalibrationMethod.MinMax });
        var ranges = QuantizationOptions.RangesOf(table);
        var items = new object[] { Path.Combine(models, "fashion-test-2000.x.npy") };
        var labels = LabelFile.FromNpy(Path.Combine(models, "fashion-test-2000.y.npy"));
        var cpu = HostCpu.Current;
        Console.WriteLine($"CPU: {cpu.Model}; {cpu.InstructionSetText}");
        Console.WriteLine();
        Console.WriteLine("| model | weights | top-1 | agreement | output SQNR dB |");
        Console.WriteLine("| --- | --- | ---: | ---: | ---: |");
        var modes = new (string Name, QuantizationOptions Options)[]
        {
            ("static QDQ per channel, 8-bit weights", QuantizationOptions.Static(ranges) with { PerChannel = true, WeightSaturation = SaturationGuard.None }),
            ("static QDQ per channel, 7-bit weights", QuantizationOptions.Static(ranges) with { PerChannel = true, ReduceRange = true }),
            ("static QDQ per tensor, 4-bit weights", QuantizationOptions.Static(ranges) with { WeightType = Numerics.QuantType.Int4, WeightSaturation = SaturationGuard.None }),
            ("dynamic, 8-bit weights", QuantizationOptions.Dynamic() with { WeightSaturation = SaturationGuard.None }),
        };
        foreach (var (name, options) in modes)
        {
            (double Top1, double Agree, double Sqnr) Measure(WeightNumerics n)
            {
                var q = ModelQuantizer.Quantize(model, options with { WeightNumerics = n }).Model;
                var s = AccuracyComparer.Compare(model, q, items, new ComparisonOptions { Labels = labels, CheckKernels = false }).Summary;
                return (s.CandidateAccuracy ?? double.NaN, s.Top1Agreement ?? double.NaN, s.MinOutputSqnr);
            }
            void Row(string weights, (double Top1, double Agree, double Sqnr) r) =>
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {weights} | {r.Top1:F2}% | {r.Agree:F2}% | {r.Sqnr:F2} |"));
            Row("MaxAbs, nearest", Measure(WeightNumerics.Default));
            Row("ADMM, nearest", Measure(new WeightNumerics(WeightScaleMethod.Admm)));
            var runs = Enumerable.Range(1, seeds).Select(s => Measure(new WeightNumerics(Rounding: WeightRounding.Stochastic, Seed: s))).ToList();
            string Spread(Func<(double Top1, double Agree, double Sqnr), double> f, string unit) =>
                string.Create(CultureInfo.InvariantCulture, $"{runs.Average(f):F2}{unit} ({runs.Min(f):F2}..{runs.Max(f):F2})");
            Console.WriteLine($"| {name} | MaxAbs, stochastic ({seeds} seeds: mean (min..max)) | {Spread(r => r.Top1, "%")} | {Spread(r => r.Agree, "%")} | {Spread(r => r.Sqnr, "")} |");
        }
        return 0;
    }
}
