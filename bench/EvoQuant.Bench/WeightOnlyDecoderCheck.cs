using System.Diagnostics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Quantization.WeightOnly;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EvoQuant.Bench;

/// <summary>Issue 19 on a generated decoder-shaped model (random weights, fixed seed): LAYERS blocks of
/// Q/K/V/O projections [H, H] and an FFN [H, F] / [F, H] with residual Adds, then an output head [H, V].
/// Each step in its own process, so that its peak RSS (VmHWM) is its own:
/// <c>-- wo-gptq decoder make FOLDER [LAYERS] [H] [F] [V]</c> writes FOLDER/decoder.onnx;
/// <c>-- wo-gptq decoder quantize FOLDER [verify|noverify]</c> quantizes it 4-bit blocks of 32 to MatMulNBits (RTN), as
/// Invoke-Quantization -WeightOnly does, writes FOLDER/decoder.int4.onnx and prints seconds and peak RSS, and the
/// peak after loading alone;
/// <c>-- wo-gptq decoder latency FOLDER [ROUNDS] [RUNS]</c> runs batch-1 one-token inference on both models
/// interleaved (RUNS each per round) and prints the median per-round ratio int4 / float.</summary>
public static class WeightOnlyDecoderCheck
{
    public static int Run(string[] args)
    {
        switch (args)
        {
            case ["make", var folder, ..]:
            {
                int layers = args.Length > 2 ? int.Parse(args[2]) : 6, h = args.Length > 3 ? int.Parse(args[3]) : 1024;
                int f = args.Length > 4 ? int.Parse(args[4]) : 4096, v = args.Length > 5 ? int.Parse(args[5]) : 8192;
                Directory.CreateDirectory(folder);
                var model = Make(layers, h, f, v);
                model.Save(Path.Combine(folder, "decoder.onnx"));
                Console.WriteLine($"MADE layers={layers} hidden={h} ffn={f} vocab={v} matmul-weights={model.WeightBytes / 1048576.0:F1} MiB");
                return 0;
            }
            case ["quantize", var folder, ..]:
            {
                bool verify = args.Length <= 2 || args[2] != "noverify";
                var clock = Stopwatch.StartNew();
                var model = OnnxModel.Load(Path.Combine(folder, "decoder.onnx"));
                long loaded = PeakBytes();
                var options = QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { Bits = 4, BlockSize = 32, Form = WeightOnlyForm.MatMulNBits }) with { VerifyWithRuntime = verify, VerifyWhenSaved = verify };
                var result = ModelQuantizer.Quantize(model, options);
                // As Invoke-Quantization does: the check runs on the written file, before it is committed.
                result.Save(Path.Combine(folder, "decoder.int4.onnx"), overwrite: true, verifyWithRuntime: verify);
                Console.WriteLine($"QUANTIZE verify={verify} seconds={clock.Elapsed.TotalSeconds:F1} float-weights={model.WeightBytes / 1048576.0:F1} MiB " +
                    $"int4-weights={result.WeightBytesAfter / 1048576.0:F1} MiB peak-after-load={loaded / 1048576.0:F0} MiB peak={PeakBytes() / 1048576.0:F0} MiB");
                return 0;
            }
            case ["latency", var folder, ..]:
            {
                int rounds = args.Length > 2 ? int.Parse(args[2]) : 20, runs = args.Length > 3 ? int.Parse(args[3]) : 5;
                using var fp = Session(Path.Combine(folder, "decoder.onnx"));
                using var q4 = Session(Path.Combine(folder, "decoder.int4.onnx"));
                int h = (int)fp.InputMetadata["x"].Dimensions[^1];
                var x = new DenseTensor<float>(Enumerable.Range(0, h).Select(i => MathF.Sin(i * 0.37f)).ToArray(), new[] { 1, 1, h });
                var input = new[] { NamedOnnxValue.CreateFromTensor("x", x) };
                double Time(InferenceSession s)
                {
                    var sw = Stopwatch.StartNew();
                    for (int i = 0; i < runs; i++) using (s.Run(input)) { }
                    return sw.Elapsed.TotalMilliseconds / runs;
                }
                Time(fp); Time(q4); // warm-up
                var ratios = new List<double>();
                var fpMs = new List<double>();
                var q4Ms = new List<double>();
                for (int r = 0; r < rounds; r++)
                {
                    // Alternate which goes first, so drift in the machine's load does not favour one.
                    double a, b;
                    if (r % 2 == 0) { a = Time(fp); b = Time(q4); } else { b = Time(q4); a = Time(fp); }
                    fpMs.Add(a); q4Ms.Add(b); ratios.Add(b / a);
                }
                Console.WriteLine($"LATENCY rounds={rounds} runs={runs} float-median={Median(fpMs):F2} ms int4-median={Median(q4Ms):F2} ms " +
                    $"ratio-median={Median(ratios):F3} (int4/float) ratio-range=[{ratios.Min():F3}, {ratios.Max():F3}] int4-faster-rounds={ratios.Count(x => x < 1)}/{rounds}");
                return 0;
            }
            default:
                Console.Error.WriteLine("usage: wo-decoder make FOLDER [LAYERS] [H] [F] [V] | quantize FOLDER [verify|noverify] | latency FOLDER [ROUNDS] [RUNS]");
                return 2;
        }
    }

    private static InferenceSession Session(string path)
    {
        var o = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        return new InferenceSession(path, o);
    }

    private static double Median(List<double> v)
    {
        var s = v.OrderBy(x => x).ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    // x [1, S, H]; per layer: q, k, v = x W; a = sigmoid(q * k) * v (attention's shape for one token, without its
    // softmax over a single key); x += a Wo; x += relu(x Wup) Wdown; logits = x Whead.
    private static OnnxModel Make(int layers, int h, int f, int v)
    {
        var g = new GraphProto { Name = "decoder" };
        g.Input.Add(Float("x", h));
        g.Output.Add(Float("logits", v));
        var random = new Random(19);
        string x = "x";
        string Weight(string name, int k, int n)
        {
            var w = new float[(long)k * n];
            float scale = 1f / MathF.Sqrt(k) * 1.7f;
            for (long i = 0; i < w.Length; i++) w[i] = (float)(random.NextDouble() * 2 - 1) * scale;
            g.Initializer.Add(TensorData.FromFloats(name, new long[] { k, n }, w));
            return name;
        }
        string Op(string op, string name, params string[] inputs)
        {
            var node = new NodeProto { OpType = op, Name = name };
            node.Input.AddRange(inputs);
            node.Output.Add(name + "_out");
            g.Node.Add(node);
            return name + "_out";
        }
        for (int l = 0; l < layers; l++)
        {
            string p = $"layer{l}";
            string q = Op("MatMul", $"{p}/q", x, Weight($"{p}.wq", h, h));
            string k = Op("MatMul", $"{p}/k", x, Weight($"{p}.wk", h, h));
            string vv = Op("MatMul", $"{p}/v", x, Weight($"{p}.wv", h, h));
            string a = Op("Mul", $"{p}/attn", Op("Sigmoid", $"{p}/score", Op("Mul", $"{p}/qk", q, k)), vv);
            x = Op("Add", $"{p}/res1", x, Op("MatMul", $"{p}/o", a, Weight($"{p}.wo", h, h)));
            string up = Op("Relu", $"{p}/act", Op("MatMul", $"{p}/up", x, Weight($"{p}.wup", h, f)));
            x = Op("Add", $"{p}/res2", x, Op("MatMul", $"{p}/down", up, Weight($"{p}.wdown", f, h)));
        }
        var head = new NodeProto { OpType = "MatMul", Name = "head" };
        head.Input.Add(x);
        head.Input.Add(Weight("head.w", h, v));
        head.Output.Add("logits");
        g.Node.Add(head);
        var m = new ModelProto { IrVersion = 8, Graph = g, ProducerName = "EvoQuant.Bench" };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return new OnnxModel(m);
    }

    private static ValueInfoProto Float(string name, int last)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "tokens" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = last });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = ElementTypes.Float, Shape = shape } } };
    }

    // VmHWM: the resident peak of this process, native allocations (ONNX Runtime) included.
    private static long PeakBytes()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmHWM:")) return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return Process.GetCurrentProcess().PeakWorkingSet64;
    }
}
