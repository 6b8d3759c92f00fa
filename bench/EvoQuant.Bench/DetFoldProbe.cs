using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Targets;
using EvoQuant.Tests.Quantization.Helpers;
using EvoQuant.Tests.Support;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Bench;

/// <summary>Issue 14's detector question (`dotnet run -c Release --project bench/EvoQuant.Bench -- det-fold [method]`):
/// PaddleOCR's text detector, calibrated (asymmetric, MinMax by default) on tiles of one scanned page and evaluated
/// on another, as OcrDetQdqTests does, static QDQ per channel with this CPU's defaults. Variants: BatchNormalization
/// folding off/on, with Relu/Clip folded into the producer or kept (lower end of their ranges at -0.01/6 of the
/// max); then each foldable Conv+BN pair folded alone. Per variant: probability map SQNR (deployed, and with ONNX
/// Runtime's optimizations off), text pixels (float p > 0.3) kept, and the mean change of p on them.</summary>
public static class DetFoldProbe
{
    public static int Run(string[] args)
    {
        var model = OnnxModel.Load(TestData.Require(TestData.OcrDet));
        var (calib, calibShape) = OcrData.PageTiles(Path.Combine(TestData.RepoRoot, ".testdata", "opencv", "imageTextR.png"));
        var method = args.Length > 0 ? Enum.Parse<CalibrationMethod>(args[0]) : CalibrationMethod.MinMax;
        var table = Calibrator.Run(model, new object[] { new NamedTensor(model.Inputs[0].Name, calib, calibShape.Select(d => (long)d).ToArray()) },
            new CalibrationOptions { Method = method, BatchSize = 1, Symmetric = false });
        var ranges = QuantizationOptions.RangesOf(table);
        var kept = new Dictionary<string, ActivationRange>(ranges);
        foreach (var node in model.Graph.Nodes.Where(n => n.OpType is "Relu" or "Clip"))
            if (ranges.TryGetValue(node.Output[0], out var r) && r.Min >= 0) kept[node.Output[0]] = new ActivationRange(-0.01f / 6 * r.Max, r.Max);
        var (x, shape) = OcrData.PageTiles(TextLineCrops.Page);
        var f = OcrData.Run(model, x, shape);
        var defaults = TargetProfile.Resolve(QuantTarget.Host).StaticDefaults() with { PerChannel = true, UseContribOps = true };

        Console.WriteLine($"| {method} | SQNR (dB) | SQNR, ORT optimizations off | text pixels kept | pixels made text | mask IoU | mean p shift on text | mean p shift, all pixels |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (bool bn in new[] { false, true })
            foreach (var (label, r) in new[] { ("Relu folded", (IReadOnlyDictionary<string, ActivationRange>)ranges), ("Relu kept", kept) })
                Report($"BN folding {(bn ? "on" : "off")}, {label}", ModelQuantizer.Quantize(model, defaults with { ActivationRanges = r, FoldBatchNormalization = bn }).Model, f, x, shape);
        if (args.Contains("speed")) Speed(model, ranges, defaults, x, shape);
        var pairs = BatchNormFolding.FoldPairs(model, ranges.ContainsKey).Pairs;
        foreach (var pair in pairs)
        {
            var (one, _) = BatchNormFolding.Fold(model, t => t == pair.NormOutput);
            Report($"only {pair.NormOutput} folded", ModelQuantizer.Quantize(one, defaults with { ActivationRanges = ranges }).Model, f, x, shape);
        }
        return 0;
    }

    // Float and the two default-format models (BN folding off/on) timed in interleaved rounds on the page tiles:
    // median ms per run of each, ONNX Runtime's defaults.
    private static void Speed(OnnxModel model, IReadOnlyDictionary<string, ActivationRange> ranges, QuantizationOptions defaults, float[] x, int[] shape)
    {
        var models = new (string Label, OnnxModel Model)[]
        {
            ("float", model),
            ("BN folding off", ModelQuantizer.Quantize(model, defaults with { ActivationRanges = ranges }).Model),
            ("BN folding on", ModelQuantizer.Quantize(model, defaults with { ActivationRanges = ranges, FoldBatchNormalization = true }).Model),
        };
        var sessions = models.Select(m => new InferenceSession(m.Model.ToBytes())).ToArray();
        var input = new[] { NamedOnnxValue.CreateFromTensor(sessions[0].InputMetadata.Keys.Single(), new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(x, shape)) };
        var times = models.Select(_ => new List<double>()).ToArray();
        for (int round = 0; round < 23; round++)
            for (int k = 0; k < sessions.Length; k++)
            {
                int i = (k + round) % sessions.Length; // rotate which model runs first
                var sw = System.Diagnostics.Stopwatch.StartNew();
                using (sessions[i].Run(input)) { }
                if (round >= 3) times[i].Add(sw.Elapsed.TotalMilliseconds); // 3 warm-up rounds
            }
        double baseline = BenchFiles.Median(times[0]);
        for (int i = 0; i < models.Length; i++)
            Console.WriteLine(FormattableString.Invariant($"speed {models[i].Label}: median {BenchFiles.Median(times[i]):F1} ms ({baseline / BenchFiles.Median(times[i]):F2}x float), 20 runs of batch {shape[0]}"));
        foreach (var s in sessions) s.Dispose();
    }

    private static void Report(string label, OnnxModel q, float[] f, float[] x, int[] shape)
    {
        var y = FoldProbe.Outputs(q, x, shape, GraphOptimizationLevel.ORT_ENABLE_ALL);
        var simulated = FoldProbe.Outputs(q, x, shape, GraphOptimizationLevel.ORT_DISABLE_ALL);
        int text = 0, both = 0, added = 0;
        double shift = 0, shiftAll = 0;
        for (int i = 0; i < f.Length; i++)
        {
            shiftAll += y[i] - f[i];
            if (f[i] > 0.3f) { text++; shift += y[i] - f[i]; if (y[i] > 0.3f) both++; }
            else if (y[i] > 0.3f) added++;
        }
        Console.WriteLine(FormattableString.Invariant(
            $"| {label} | {ErrorMetrics.Sqnr(f, y):F2} | {ErrorMetrics.Sqnr(f, simulated):F2} | {both}/{text} ({100.0 * both / text:F1}%) | {added} | {100.0 * both / (text + added):F1}% | {shift / text:F4} | {shiftAll / f.Length:F4} |"));
    }
}
