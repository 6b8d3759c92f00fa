using System.Globalization;
using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Targets;
using EvoQuant.Tests.Support;

namespace EvoQuant.Bench;

/// <summary>Probe: ONNX Runtime's per-node profiles of the PaddleOCR direction classifier, float and int8 (host static
/// defaults, MinMax on 51 crops), attributed to the float model's nodes (float and int8 time per node; with a second
/// argument, which source node each runtime node went to). With `exclude`, the graph around a Conv kept float by
/// ExcludeNodes: ONNX Runtime's WeightBiasQuantization then quantizes it again (and fails on this opset-10 model).</summary>
public static class NodeProfileProbe
{
    public static int Run(string[] args)
    {
        if (args.Length > 0 && args[0] == "fashion") return Fashion(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1);
        var model = OnnxModel.Load(TestData.Require(TestData.OcrCls));
        var (data, count) = TextLineCrops.Load();
        int half = count / 2;
        var calib = new NamedTensor(model.Inputs[0].Name, data[..(half * 3 * TextLineCrops.H * TextLineCrops.W)], new long[] { half, 3, TextLineCrops.H, TextLineCrops.W });
        var table = Calibrator.Run(model, new object[] { calib }, new CalibrationOptions { Method = CalibrationMethod.MinMax, BatchSize = 16 });
        var options = TargetProfile.Resolve(QuantTarget.Host).StaticDefaults() with { ActivationRanges = QuantizationOptions.RangesOf(table), UseContribOps = true };
        if (args.Length > 0 && args[0] == "exclude")
        {
            var x = ModelQuantizer.Quantize(model, options with { ExcludeNodes = new[] { args[1] }, VerifyWithRuntime = false });
            foreach (var n in x.Model.Proto.Graph.Node.Where(n => n.Input.Concat(n.Output).Any(t => t.Contains(args[2], StringComparison.Ordinal))))
                Console.WriteLine($"{n.Name} {n.OpType} [{string.Join(",", n.Input)}] -> [{string.Join(",", n.Output)}]");
            return 0;
        }
        if (args.Length > 0 && args[0] == "se-mul")
        {
            // The SE blocks' Muls (x times a HardSigmoid gate of shape [N,C,1,1]) kept float, nothing else: against the default.
            var gates = model.Graph.Nodes.Where(n => n.OpType == "Mul" && n.Input.Any(i => model.Graph.Producer(i)?.OpType == "HardSigmoid"))
                .ToDictionary(n => n.Output[0], _ => "SE gate Mul (probe)");
            var all = new NamedTensor(model.Inputs[0].Name, data, new long[] { count, 3, TextLineCrops.H, TextLineCrops.W });
            var pc = options with { PerChannel = true };
            var baseline = ModelQuantizer.Quantize(model, pc).Model;
            var se = ModelQuantizer.Quantize(model, pc with { KeepFloat = gates }).Model;
            Console.WriteLine($"{gates.Count} SE Muls kept float; load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
            for (int r = 0; r < 3; r++)
            {
                var vsDefault = SpeedComparer.Measure(baseline, se, new object[] { all }, new SpeedOptions { MaxPairs = 300, TimeBudget = TimeSpan.FromSeconds(3) });
                var vsFloat = SpeedComparer.Measure(model, se, new object[] { all }, new SpeedOptions { MaxPairs = 300, TimeBudget = TimeSpan.FromSeconds(3) });
                Console.WriteLine($"round {r + 1}: SE Muls float vs default int8: {vsDefault}; vs float: {vsFloat}");
            }
            return 0;
        }
        var q = ModelQuantizer.Quantize(model, options);
        
        int batch = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1;
        var one = new Dictionary<string, NamedTensor> { [model.Inputs[0].Name] = calib.SliceRows(0, batch).WithName(model.Inputs[0].Name) };
        var pf = RuntimeProfiler.Profile(model, one, 3, 10);
        var pq = RuntimeProfiler.Profile(q.Model, one, 3, 10);
        var costs = NodeCostAttribution.Attribute(model, pf, q.Model, q.Provenance, pq);
        Console.WriteLine($"float {pf.TotalMicroseconds:F0} us, quantized {pq.TotalMicroseconds:F0} us; unattributed: {string.Join(", ", costs.Unattributed)}");
        foreach (var c in costs.Nodes) Console.WriteLine($"{c.Name}\t{c.OpType}\t{c.FloatMicroseconds:F1}\t{c.QuantizedMicroseconds:F1}\t{c.Ratio:F2}");
        if (args.Length > 1) foreach (var (k, v) in costs.Owners) Console.WriteLine($"{k} -> {v}");
        return 0;
    }

    // fashion-cnn with the host's static defaults (per channel, MinMax on the 200 calibration images): both profiles
    // at one batch size, summed by the op type that ran, and the int8 model's slowest nodes.
    private static int Fashion(int batch)
    {
        string models = Path.Combine(TestData.SharedModels);
        var model = OnnxModel.Load(Path.Combine(models, "fashion-cnn.onnx"));
        var table = Calibrator.Run(model, new object[] { Path.Combine(models, "fashion-calib-200.x.npy") }, new CalibrationOptions());
        var options = TargetProfile.Resolve(QuantTarget.Host).StaticDefaults().WithCalibration(table) with { PerChannel = true };
        var q = ModelQuantizer.Quantize(model, options);
        var all = NpyReader.Read(Path.Combine(models, "fashion-test-2000.x.npy"));
        var one = new Dictionary<string, NamedTensor> { [model.Inputs[0].Name] = all.SliceRows(0, batch).WithName(model.Inputs[0].Name) };
        var pf = RuntimeProfiler.Profile(model, one, 20, 200);
        var pq = RuntimeProfiler.Profile(q.Model, one, 20, 200);
        Console.WriteLine($"batch {batch}: float {pf.TotalMicroseconds:F0} us, int8 {pq.TotalMicroseconds:F0} us");
        foreach (var (name, p) in new[] { ("float", pf), ("int8", pq) })
            foreach (var g in p.Nodes.GroupBy(x => x.OpType).OrderByDescending(g => g.Sum(x => x.MedianMicroseconds)))
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name} {g.Key}: {g.Count()} nodes, {g.Sum(x => x.MedianMicroseconds):F1} us"));
        foreach (var x in pq.Nodes.OrderByDescending(x => x.MedianMicroseconds).Take(25))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  int8 node {x.Node} {x.OpType} {x.MedianMicroseconds:F1} us"));
        foreach (var x in pf.Nodes.OrderByDescending(x => x.MedianMicroseconds).Take(15))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  float node {x.Node} {x.OpType} {x.MedianMicroseconds:F1} us"));
        return 0;
    }
}
