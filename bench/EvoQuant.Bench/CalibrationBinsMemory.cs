using System.Diagnostics;
using EvoQuant.Calibration;
using EvoQuant.Onnx;

namespace EvoQuant.Bench;

/// <summary>Peak resident memory (VmHWM) of one Entropy or Percentile calibration of fashion-cnn on its 200
/// calibration images at a given bin count (issue 16: -Bins 1048576 went past 4 GB):
/// <c>dotnet run -c Release --project bench/EvoQuant.Bench -- calib-bins [BINS] [METHOD] [BUDGET-MiB]</c>
/// (BINS 0: the method's default). Run each case in its own process: the high-water mark is the process's.</summary>
public static class CalibrationBinsMemory
{
    public static int Run(string[] args)
    {
        int bins = args.Length > 0 ? int.Parse(args[0]) : 0;
        var method = args.Length > 1 ? Enum.Parse<CalibrationMethod>(args[1], ignoreCase: true) : CalibrationMethod.Entropy;
        long? budget = args.Length > 2 ? long.Parse(args[2]) << 20 : null;
        string folder = BenchFiles.SharedModels;
        var model = OnnxModel.Load(Path.Combine(folder, "fashion-cnn.onnx"));
        var options = new CalibrationOptions { Method = method, Bins = bins };
        if (budget is long b) options = options with { MaxHistogramBytes = b };
        var sw = Stopwatch.StartNew();
        var table = Calibrator.Run(model, new object[] { Path.Combine(folder, "fashion-calib-200.x.npy") }, options);
        double seconds = sw.Elapsed.TotalSeconds;
        long storedBins = table.Ranges.Sum(r => (long)(r.Histogram?.Counts.Length ?? 0));
        var first = table.Ranges[0];
        Console.WriteLine($"CALIB-BINS model=fashion-cnn method={method} bins={bins} effectiveBins={table.Settings.EffectiveBins} " +
            $"tensors={table.Ranges.Count} storedBins={storedBins} seconds={seconds:F1} VmHWM-MiB={LargeModels.PeakBytes() / 1048576.0:F1} " +
            $"first={first.Tensor}:[{first.RangeMin:G6}, {first.RangeMax:G6}]");
        return 0;
    }
}
