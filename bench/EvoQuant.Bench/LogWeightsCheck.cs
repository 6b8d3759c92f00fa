using System.Globalization;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization.Logarithmic;
using EvoQuant.Targets;

namespace EvoQuant.Bench;

/// <summary>
/// Logarithmic weights against linear weights of the same width (`dotnet run -c Release --project
/// bench/EvoQuant.Bench -- log-weights`): fashion-cnn with every Conv/MatMul/Gemm weight stored as 8-bit and
/// 4-bit log codes (LogWeightQuantizer, per output channel, steps per octave chosen per tensor), run by ONNX
/// Runtime from the written file; beside it linear symmetric codes of the same width and the same per-channel
/// scales (max-abs / qmax), whose weight bytes are the same by construction, decoded into the float model
/// (what a DequantizeLinear model computes). Top-1 on the 2000 test images, output SQNR, file size, and the
/// log model's paired speed against float (the decode subgraph is constant: ONNX Runtime folds it at load).
/// </summary>
public static class LogWeightsCheck
{
    public static int Run(string[] args)
    {
        string models = BenchFiles.SharedModels;
        string path = Path.Combine(models, "fashion-cnn.onnx");
        var model = OnnxModel.Load(path);
        var items = new object[] { Path.Combine(models, "fashion-test-2000.x.npy") };
        var labels = LabelFile.FromNpy(Path.Combine(models, "fashion-test-2000.y.npy"));
        var cpu = HostCpu.Current;
        Console.WriteLine($"CPU: {cpu.Model}; {cpu.InstructionSetText}");
        Console.WriteLine();
        Console.WriteLine("| weights | top-1 | agreement | output SQNR dB | weight SQNR dB (min..median) | weights x smaller | file bytes | speed vs float |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        var baseline = AccuracyComparer.Compare(model, model, items, new ComparisonOptions { Labels = labels, CheckKernels = false }).Summary;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| float | {baseline.ReferenceAccuracy:F2}% | | | | 1.00 | {new FileInfo(path).Length:N0} | 1.00 |"));
        string folder = Directory.CreateTempSubdirectory("evoquant-log-").FullName;
        try
        {
            foreach (int bits in new[] { 8, 4 })
            {
                var log = LogWeightQuantizer.Quantize(model, new LogWeightOptions(bits));
                string file = Path.Combine(folder, $"log{bits}.onnx");
                File.WriteAllBytes(file, log.Model.ToBytes());
                var written = OnnxModel.Load(file);
                var s = AccuracyComparer.Compare(model, written, items, new ComparisonOptions { Labels = labels, CheckKernels = false }).Summary;
                var speed = SpeedComparer.Measure(model, written, items, new SpeedOptions { BatchSize = 100 });
                var sqnrs = log.Weights.Select(w => w.Sqnr).Order().ToList();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| log {bits}-bit (steps/octave {string.Join(",", log.Weights.Select(w => w.StepsPerOctave).Distinct().Order())}) | {s.CandidateAccuracy:F2}% | {s.Top1Agreement:F2}% | {s.MinOutputSqnr:F2} | {sqnrs[0]:F1}..{sqnrs[sqnrs.Count / 2]:F1} | {log.WeightRatio:F2} | {new FileInfo(file).Length:N0} | {speed.Speedup:F2} |"));

                var linear = LinearAtSameWidth(model, log.Weights.Select(w => w.Tensor).ToHashSet(), bits);
                var l = AccuracyComparer.Compare(model, linear, items, new ComparisonOptions { Labels = labels, CheckKernels = false }).Summary;
                var linearSqnrs = log.Weights.Select(w => w.LinearSqnr).Order().ToList();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| linear int{bits}, same scales | {l.CandidateAccuracy:F2}% | {l.Top1Agreement:F2}% | {l.MinOutputSqnr:F2} | {linearSqnrs[0]:F1}..{linearSqnrs[linearSqnrs.Count / 2]:F1} | {log.WeightRatio:F2} | (same) | |"));
            }
        }
        finally { Directory.Delete(folder, recursive: true); }
        return 0;
    }

    /// <summary>The float model with each named weight replaced by its symmetric linear codes (per output channel,
    /// max-abs / qmax) decoded back: what a per-channel DequantizeLinear of those codes computes.</summary>
    private static OnnxModel LinearAtSameWidth(OnnxModel model, HashSet<string> weights, int bits)
    {
        var proto = model.CloneProto();
        int qmax = (1 << (bits - 1)) - 1;
        foreach (var node in proto.Graph.Node)
        {
            if (node.Input.Count < 2 || !weights.Contains(node.Input[1])) continue;
            var t = proto.Graph.Initializer.FirstOrDefault(i => i.Name == node.Input[1]);
            if (t == null) continue;
            var dims = t.Dims.ToArray();
            int axis = node.OpType switch
            {
                "Conv" => 0,
                "ConvTranspose" => 1,
                "MatMul" => dims.Length - 1,
                _ => node.Attribute.FirstOrDefault(a => a.Name == "transB")?.I == 1 ? 0 : 1,
            };
            long inner = 1;
            for (int d = axis + 1; d < dims.Length; d++) inner *= dims[d];
            int channels = (int)dims[axis];
            var data = model.GetFloats(t);
            var max = new float[channels];
            for (long i = 0; i < data.Length; i++) max[i / inner % channels] = Math.Max(max[i / inner % channels], Math.Abs(data[i]));
            var values = new float[data.Length];
            for (long i = 0; i < data.Length; i++)
            {
                float s = max[i / inner % channels] / qmax;
                values[i] = s == 0 ? 0 : (float)(Math.Clamp(Math.Round(data[i] / s), -qmax, qmax) * s);
            }
            proto.Graph.Initializer.Remove(t);
            proto.Graph.Initializer.Add(TensorData.FromFloats(t.Name, dims, values));
        }
        return model.With(proto);
    }
}
