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

/// <summary>What folding Relu/Clip into the producer's QuantizeLinear costs on PaddleOCR's direction classifier
/// (`dotnet run -c Release --project bench/EvoQuant.Bench -- fold-probe [save-folder|-] [label filter]`): Auto's ranges on the
/// first 51 crops, static QDQ per channel with this CPU's defaults, evaluated on all 102 crops. Variants: the
/// ranges as calibrated (every one-sided Relu/Clip folded); the fold prevented (the lower end of those ranges
/// moved to -0.01/6 of the max, which moves no zero point; also -0.5/6 and -3/6); Relu or Clip alone kept; and neutral perturbations
/// that keep the fold (Relu maxima x0.99 .. x1.03), each also with the fold prevented. Per variant: the softmax
/// output's SQNR, the margin's (logit 0 - logit 1, the only thing the two-class softmax depends on), top-1
/// agreement, and the same SQNR with ONNX Runtime's optimizations off (Q/DQ simulated in float). With a folder,
/// the folded and unfolded models are written there (for `fold-tensors`).</summary>
public static class FoldProbe
{
    private const string Logits = "p2o.Add.87"; // the classifier's last Add, before the Softmax

    public static int Run(string[] args)
    {
        var model = OnnxModel.Load(TestData.Require(TestData.OcrCls));
        var (data, count) = TextLineCrops.Load();
        int size = 3 * TextLineCrops.H * TextLineCrops.W, half = count / 2;
        var shape = new[] { count, 3, TextLineCrops.H, TextLineCrops.W };
        var calib = new NamedTensor(model.Inputs[0].Name, data[..(half * size)], new long[] { half, 3, TextLineCrops.H, TextLineCrops.W });
        var table = Calibrator.Run(model, new object[] { calib }, new CalibrationOptions { Method = CalibrationMethod.Auto, BatchSize = 16 });
        var ranges = QuantizationOptions.RangesOf(table);
        var format = TargetProfile.Resolve(QuantTarget.Host).StaticDefaults() with { PerChannel = true, UseContribOps = true };

        var variants = new List<(string Label, IReadOnlyDictionary<string, ActivationRange> Ranges)>
        {
            ("folded", ranges),
            ("unfolded", Edit(model, ranges, "Relu", "Clip", keepFold: false, 1)),
            ("Relu kept, Clip folded", Edit(model, ranges, "Relu", null, keepFold: false, 1)),
            ("Clip kept, Relu folded", Edit(model, ranges, "Clip", null, keepFold: false, 1)),
            ("unfolded at -0.5/6 of the max", Edit(model, ranges, "Relu", "Clip", keepFold: false, 1, lower: 0.5f / 6)),
            ("unfolded at -3/6 of the max", Edit(model, ranges, "Relu", "Clip", keepFold: false, 1, lower: 3f / 6)),
        };
        variants.Add(("folded, Relu max x1.5", Edit(model, ranges, "Relu", null, keepFold: true, 1.5)));
        variants.Add(("folded, Relu max x2", Edit(model, ranges, "Relu", null, keepFold: true, 2)));
        foreach (double f in new[] { 0.99, 1.0017, 1.01, 1.03 })
        {
            variants.Add(($"folded, Relu max x{f}", Edit(model, ranges, "Relu", null, keepFold: true, f)));
            variants.Add(($"unfolded, Relu max x{f}", Edit(Edit(model, ranges, "Relu", "Clip", keepFold: false, 1), model, f)));
        }
        if (args.Length > 1) variants = variants.Where(v => v.Label.Contains(args[1], StringComparison.Ordinal)).ToList();
        var reference = Outputs(model, data, shape, GraphOptimizationLevel.ORT_ENABLE_ALL);
        var refMargin = Margins(Outputs(model, data, shape, GraphOptimizationLevel.ORT_ENABLE_ALL, Logits));
        Console.WriteLine("| variant | softmax SQNR (dB) | margin SQNR (dB) | agreement | softmax SQNR, ORT optimizations off |");
        Console.WriteLine("| --- | --- | --- | --- | --- |");
        foreach (var (label, r) in variants)
        {
            var q = ModelQuantizer.Quantize(model, format with { ActivationRanges = r }).Model;
            if (args.Length > 0 && args[0] != "-" && label is "folded" or "unfolded") File.WriteAllBytes(Path.Combine(args[0], label + ".onnx"), q.ToBytes());
            var y = Outputs(q, data, shape, GraphOptimizationLevel.ORT_ENABLE_ALL);
            var margin = Margins(Outputs(q, data, shape, GraphOptimizationLevel.ORT_ENABLE_ALL, Logits));
            var simulated = Outputs(q, data, shape, GraphOptimizationLevel.ORT_DISABLE_ALL);
            int agree = Enumerable.Range(0, count).Count(i => margin[i] > 0 == refMargin[i] > 0);
            Console.WriteLine(FormattableString.Invariant(
                $"| {label} | {ErrorMetrics.Sqnr(reference, y):F2} | {ErrorMetrics.Sqnr(refMargin, margin):F2} | {agree}/{count} | {ErrorMetrics.Sqnr(reference, simulated):F2} |"));
        }
        return 0;
    }

    // Ranges with the one-sided outputs of the given op types either kept folded with the max scaled, or given a
    // lower end of -lower x the max (the fold's condition fails; at 0.01/6 uint8's zero point stays 0).
    private static Dictionary<string, ActivationRange> Edit(OnnxModel model, IReadOnlyDictionary<string, ActivationRange> ranges, string op, string? op2, bool keepFold, double factor, float lower = 0.01f / 6)
    {
        var edited = new Dictionary<string, ActivationRange>(ranges);
        foreach (var node in model.Graph.Nodes.Where(n => n.OpType == op || n.OpType == op2))
            if (ranges.TryGetValue(node.Output[0], out var r) && r.Min >= 0)
                edited[node.Output[0]] = keepFold ? new ActivationRange(0, (float)(r.Max * factor)) : new ActivationRange(-lower * r.Max, r.Max);
        return edited;
    }

    // The unfolded ranges with the Relu maxima scaled (lower ends scaled alike: still negative, still unfolded).
    private static Dictionary<string, ActivationRange> Edit(Dictionary<string, ActivationRange> unfolded, OnnxModel model, double factor)
    {
        foreach (var node in model.Graph.Nodes.Where(n => n.OpType == "Relu"))
            if (unfolded.TryGetValue(node.Output[0], out var r) && r.Min < 0 && r.Min > -r.Max)
                unfolded[node.Output[0]] = new ActivationRange((float)(r.Min * factor), (float)(r.Max * factor));
        return unfolded;
    }

    private static float[] Margins(float[] logits) => Enumerable.Range(0, logits.Length / 2).Select(i => logits[2 * i] - logits[2 * i + 1]).ToArray();

    /// <summary>The model's first output, or the named tensor, on the input.</summary>
    internal static float[] Outputs(OnnxModel model, float[] x, int[] shape, GraphOptimizationLevel level, string? tensor = null) =>
        Tensors(model, x, shape, level, tensor == null ? null : new[] { tensor }).First().Value.Data;

    /// <summary>The named tensors (the model's outputs when null) of one run.</summary>
    internal static Dictionary<string, (float[] Data, int[] Dims)> Tensors(OnnxModel model, float[] x, int[] shape, GraphOptimizationLevel level, IReadOnlyCollection<string>? names)
    {
        if (names != null)
        {
            var proto = model.CloneProto();
            proto.Graph.Output.Clear();
            foreach (var n in names) proto.Graph.Output.Add(new EvoQuant.Onnx.Proto.ValueInfoProto { Name = n });
            model = model.With(proto);
        }
        using var so = new SessionOptions { GraphOptimizationLevel = level };
        using var session = new InferenceSession(model.ToBytes(), so);
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), new DenseTensor<float>(x, shape)) });
        return results.Where(r => r.Value is DenseTensor<float>).ToDictionary(r => r.Name, r => (r.AsTensor<float>().ToArray(), r.AsTensor<float>().Dimensions.ToArray()));
    }
}

/// <summary>Per tensor, two QDQ models of the classifier against float (`-- fold-tensors a.onnx b.onnx`, 16 crops,
/// ONNX Runtime's optimizations off): each float tensor's SQNR as the consumers see it (the DequantizeLinear
/// output where there is one) and the largest per-channel mean error over the channel's rms (a bias).</summary>
public static class FoldTensors
{
    public static int Run(string[] args)
    {
        var model = OnnxModel.Load(TestData.Require(TestData.OcrCls));
        var (data, _) = TextLineCrops.Load();
        const int n = 16;
        var x = data[..(n * 3 * TextLineCrops.H * TextLineCrops.W)];
        var shape = new[] { n, 3, TextLineCrops.H, TextLineCrops.W };
        var names = model.Graph.Nodes.Where(nd => nd.OpType != "Constant").SelectMany(nd => nd.Output).Where(o => model.Graph.ElementType(o) is null or 1).ToList();
        var reference = FoldProbe.Tensors(model, x, shape, GraphOptimizationLevel.ORT_DISABLE_ALL, names);
        var columns = args.Take(2).Select(path =>
        {
            var q = OnnxModel.Load(path);
            var produced = q.Graph.Nodes.SelectMany(nd => nd.Output).ToHashSet();
            var map = names.Where(s => reference.ContainsKey(s) && (produced.Contains(s + "_dq") || produced.Contains(s))).ToDictionary(s => s, s => produced.Contains(s + "_dq") ? s + "_dq" : s);
            var got = FoldProbe.Tensors(q, x, shape, GraphOptimizationLevel.ORT_DISABLE_ALL, map.Values.Distinct().ToList());
            return map.Where(kv => got.ContainsKey(kv.Value)).ToDictionary(kv => kv.Key, kv => got[kv.Value].Data);
        }).ToList();
        foreach (var s in names.Where(reference.ContainsKey))
        {
            var (r, dims) = reference[s];
            string Cell(Dictionary<string, float[]> c) => c.TryGetValue(s, out var v)
                ? FormattableString.Invariant($"{ErrorMetrics.Sqnr(r, v),7:F2} bias {WorstBias(r, v, n, dims.Length >= 2 ? dims[1] : 1):F3}") : "      -";
            Console.WriteLine($"{model.Graph.Producer(s)?.OpType,-20} {s,-32} {Cell(columns[0])}   {Cell(columns[1])}");
        }
        return 0;
    }

    // Largest |mean error| / rms over the channels (axis 1).
    private static double WorstBias(float[] r, float[] q, int n, int channels)
    {
        int per = r.Length / n, hw = per / channels;
        double worst = 0;
        for (int c = 0; c < channels; c++)
        {
            double me = 0, ms = 0;
            for (int i = 0; i < n; i++) for (int k = 0; k < hw; k++) { int j = i * per + c * hw + k; me += q[j] - r[j]; ms += r[j] * (double)r[j]; }
            worst = Math.Max(worst, Math.Abs(me / (n * hw)) / (Math.Sqrt(ms / (n * hw)) + 1e-6));
        }
        return worst;
    }
}
