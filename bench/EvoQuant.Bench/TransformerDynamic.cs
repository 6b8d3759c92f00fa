using System.Globalization;
using EvoQuant.Data;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Quantization.Smoothing;
using EvoQuant.Targets;
using EvoQuant.Text;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Bench;

/// <summary>
/// Dynamic int8 of BERT-family sentence-embedding models (`dotnet run -c Release --project bench/EvoQuant.Bench --
/// tf-dynamic [model] [sentences] [queries] [speed-rounds] [variant,...]`; model is minilm or arctic-xs from
/// .testdata/transformers). Each variant is quantized in memory, then: mean and worst cosine of the pooled
/// embeddings against float on real fortune sentences (none used for anything else), Spearman correlation of
/// the query x document cosine matrix (the first <c>queries</c> sentences against all), nearest-neighbour
/// top-1 agreement, file size, and throughput at batch 32, sequence 128 (SpeedComparer: interleaved pairs,
/// same threads, ORT CPU with all optimizations).
/// </summary>
public static class TransformerDynamic
{
    public static int Run(string[] args)
    {
        string which = args.Length > 0 ? args[0] : "minilm";
        int count = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2000;
        int queries = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 500;
        int rounds = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 1;
        var wanted = args.Length > 4 ? args[4].Split(',') : null;

        string folder = BenchFiles.Transformer(which);
        var model = OnnxModel.Load(Path.Combine(folder, "model.onnx"));
        var corpus = SentenceCorpus.Load(BenchFiles.Fortunes);
        // Seed and offset as far from any calibration split as possible: the last sentences of a fixed shuffle.
        var sentences = corpus.Split(1811, corpus.Sentences.Count)[0].TakeLast(count).ToArray();
        var encoder = new BertTextEncoder(Path.Combine(folder, "vocab.txt"), maxLength: 128);
        var speedEncoder = new BertTextEncoder(Path.Combine(folder, "vocab.txt"), maxLength: 128, padToMaxLength: true);
        var speedItems = new object[] { speedEncoder.Encode(sentences.Take(32).ToArray()) };
        // Smoothing's calibration sentences: the first of the same shuffle, disjoint from the evaluated last ones.
        var inputs = model.Graph.Proto.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        int calibration = int.TryParse(Environment.GetEnvironmentVariable("TF_SMOOTH_CALIBRATION"), out int c) ? c : 128;
        SmoothingItems = encoder.EncodeBatches(corpus.Split(1811, corpus.Sentences.Count)[0].Take(calibration), 16)
            .Select(b => (object)new Sample(b.Tensors.Where(t => inputs.Contains(t.Name)).ToList(), b.Source)).ToList();

        var cpu = HostCpu.Current;
        Console.WriteLine($"CPU: {cpu.Model}; {cpu.InstructionSetText}; {cpu.LogicalProcessors} logical, {cpu.PhysicalCores} physical cores; ORT {OrtEnv.Instance().GetVersionString()}");
        Console.WriteLine($"model {which}, {sentences.Length} sentences, {queries} queries");
        var reference = SentenceEmbedder.Embed(model, encoder, sentences, 32, out _);
        Console.WriteLine();
        Console.WriteLine("| variant | MB | mean cos | min cos | Spearman q x d | top-1 NN | speedup (float / int8 ms, batch 32 x 128) |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (var (name, make) in Variants())
        {
            if (wanted != null && !wanted.Contains(name)) continue;
            var result = make(model);
            var q = result.Model;
            var emb = SentenceEmbedder.Embed(q, encoder, sentences, 32, out _);
            var (mean, min) = Cosines(reference, emb, sentences.Length);
            var (rho, top1) = Ranking(reference, emb, sentences.Length, Math.Min(queries, sentences.Length));
            string speed = "";
            for (int r = 0; r < rounds; r++)
            {
                var s = SpeedComparer.Measure(model, q, speedItems, new SpeedOptions { BatchSize = 32, MaxPairs = 20, MinPairs = 5, TimeBudget = TimeSpan.FromSeconds(20) });
                speed += string.Create(CultureInfo.InvariantCulture, $"{s.Speedup:F2}x ({s.Throughput.Reference.Median:F0} / {s.Throughput.Candidate.Median:F0}) ");
            }
            long bytes;
            bytes = q.ToBytes().LongLength;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {bytes / 1e6:F1} | {mean:F4} | {min:F4} | {rho:F4} | {top1:P1} | {speed}|"));
            var ops = q.Proto.Graph.Node.GroupBy(n => n.OpType).Select(g => $"{g.Key}:{g.Count()}");
            Console.WriteLine("    ops: " + string.Join(" ", ops));
        }
        return 0;
    }

    internal static IEnumerable<(string Name, Func<OnnxModel, QuantizationResult> Make)> Variants()
    {
        var d = TargetProfile.Resolve(QuantTarget.Host).DynamicDefaults() with { VerifyWithRuntime = false };
        // EvoQuant's defaults for this CPU (Invoke-Quantization -Dynamic): per-channel weights where they pay,
        // embedding tables int8, pair-safe weights where 16-bit pair sums can saturate.
        yield return ("evoquant", m => ModelQuantizer.Quantize(m, d));
        // The same on ONNX Runtime's fused graph (Optimize-OnnxGraph -Level Extended): Attention -> QAttention.
        yield return ("evoquant-fused", m => ModelQuantizer.Quantize(Fused(m), d));
        // The reference tool's quantize_dynamic defaults: per-tensor int8 weights without any saturation guard
        // (reduce_range off), MatMulInteger; embeddings left float.
        yield return ("reference-defaults", m => ModelQuantizer.Quantize(m, ReferenceToolDynamic()));
        yield return ("reference-defaults-fused", m => ModelQuantizer.Quantize(Fused(m), ReferenceToolDynamic()));
        yield return ("per-tensor", m => ModelQuantizer.Quantize(m, d with { PerChannelWhereItPays = false }));
        yield return ("per-channel", m => ModelQuantizer.Quantize(m, d with { PerChannel = true }));
        yield return ("reduce-range", m => ModelQuantizer.Quantize(m, d with { ReduceRange = true, PerChannelWhereItPays = false }));
        yield return ("per-channel-rr", m => ModelQuantizer.Quantize(m, d with { PerChannel = true, ReduceRange = true }));
        yield return ("no-guard", m => ModelQuantizer.Quantize(m, d with { WeightSaturation = SaturationGuard.None }));
        yield return ("contrib", m => ModelQuantizer.Quantize(m, d with { UseContribOps = true }));
        yield return ("no-gather", m => ModelQuantizer.Quantize(m, d with { OpTypes = new[] { "MatMul", "Gemm" } }));
        // The feed-forward down projections (the MatMuls whose weight narrows, [4h, h]) kept float: their input,
        // after GELU, has the widest outliers of a BERT layer; all of them, or the last layer's only.
        yield return ("ffn-out-float", m => ModelQuantizer.Quantize(m, d with { ExcludeNodes = DownProjections(m).ToArray() }));
        yield return ("last-ffn-out-float", m => ModelQuantizer.Quantize(m, d with { ExcludeNodes = DownProjections(m).TakeLast(1).ToArray() }));
        // The defaults before they kept the first layer's down projection float; then the first two and three.
        yield return ("first-ffn-out-int8", m => ModelQuantizer.Quantize(m, d with { KeepFirstDownProjectionFloat = false }));
        foreach (int first in new[] { 2, 3 })
            yield return ($"first{first}-ffn-out-float", m => ModelQuantizer.Quantize(m, d with { ExcludeNodes = DownProjections(m).Take(first).ToArray() }));
        // SmoothQuant-style migration (alpha 0.5 / 0.75), with a Mul inserted where 1/s cannot be folded, or without.
        foreach (var alpha in new[] { 0.5, 0.75 })
            foreach (bool mul in new[] { true, false })
                yield return ($"smooth{alpha * 100:F0}{(mul ? "" : "-nomul")}", m => ModelQuantizer.Quantize(m, d with { Smoothing = Smoothing(m, alpha, mul) }));
    }

    /// <summary>Tokenized calibration batches for smoothing's channel ranges (set by the run).</summary>
    internal static IReadOnlyList<object> SmoothingItems { get; set; } = Array.Empty<object>();

    private static readonly Dictionary<OnnxModel, IReadOnlyDictionary<string, ChannelRange>> ChannelRangeCache = new();

    internal static SmoothingOptions Smoothing(OnnxModel m, double alpha, bool insertMul)
    {
        if (!ChannelRangeCache.TryGetValue(m, out var ranges))
            ChannelRangeCache[m] = ranges = ChannelRangeCollector.Collect(m, SmoothingItems);
        return new SmoothingOptions { Alpha = alpha, InsertMul = insertMul, ChannelRanges = ranges };
    }

    /// <summary>Names of the feed-forward down projections, in execution order.</summary>
    private static IEnumerable<string> DownProjections(OnnxModel m) =>
        FeedForwardProjections.DownProjections(new GraphView(m.Proto.Graph)).Select(n => n.Name);

    /// <summary>quantize_dynamic's defaults as the reference tool applies them to a transformer: per tensor,
    /// full 8-bit weights, MatMul (and the fused Attention) quantized, the embedding Gathers kept float.</summary>
    internal static QuantizationOptions ReferenceToolDynamic() => QuantizationOptions.Dynamic() with
    {
        WeightSaturation = SaturationGuard.None,
        OpTypes = new[] { "MatMul", "Gemm", "com.microsoft.Attention" },
        VerifyWithRuntime = false,
    };

    private static readonly Dictionary<OnnxModel, OnnxModel> FusedCache = new();

    /// <summary>The model as Optimize-OnnxGraph -Level Extended writes it.</summary>
    internal static OnnxModel Fused(OnnxModel m)
    {
        if (FusedCache.TryGetValue(m, out var f)) return f;
        string path = Path.Combine(Path.GetTempPath(), $"evoquant-bench-fused-{Environment.ProcessId}.onnx");
        RuntimeGraphOptimizer.Optimize(m, path, GraphOptimization.Extended);
        return FusedCache[m] = OnnxModel.Load(path);
    }

    internal static (double Mean, double Min) Cosines(float[] a, float[] b, int rows)
    {
        var cosines = SentenceEmbeddings.RowCosines(a, b, a.Length / rows);
        return (cosines.Average(), cosines.Min());
    }

    /// <summary>Spearman correlation of the query x document cosines (self pairs left out) and the share of
    /// queries whose nearest document is the same.</summary>
    internal static (double Spearman, double Top1) Ranking(float[] a, float[] b, int rows, int queries)
    {
        int hidden = a.Length / rows;
        var x = new List<double>(queries * rows);
        var y = new List<double>(queries * rows);
        int same = 0;
        for (int q = 0; q < queries; q++)
        {
            int bestA = -1, bestB = -1;
            double maxA = double.NegativeInfinity, maxB = double.NegativeInfinity;
            for (int d = 0; d < rows; d++)
            {
                if (d == q) continue;
                double ca = Dot(a, q, d, hidden), cb = Dot(b, q, d, hidden);
                x.Add(ca);
                y.Add(cb);
                if (ca > maxA) (maxA, bestA) = (ca, d);
                if (cb > maxB) (maxB, bestB) = (cb, d);
            }
            if (bestA == bestB) same++;
        }
        return (Pearson(Ranks(x), Ranks(y)), (double)same / queries);
    }

    private static double Dot(float[] e, int i, int j, int hidden) =>
        System.Numerics.Tensors.TensorPrimitives.Dot(e.AsSpan(i * hidden, hidden), e.AsSpan(j * hidden, hidden));

    private static double[] Ranks(List<double> v)
    {
        var idx = Enumerable.Range(0, v.Count).ToArray();
        var keys = v.ToArray();
        Array.Sort(keys, idx);
        var ranks = new double[v.Count];
        for (int i = 0; i < idx.Length;)
        {
            int j = i;
            while (j + 1 < idx.Length && keys[j + 1] == keys[i]) j++;
            double r = (i + j) / 2.0;
            for (int k = i; k <= j; k++) ranks[idx[k]] = r;
            i = j + 1;
        }
        return ranks;
    }

    private static double Pearson(double[] x, double[] y)
    {
        double mx = x.Average(), my = y.Average(), sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double dx = x[i] - mx, dy = y[i] - my;
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        return sxy / Math.Sqrt(sxx * syy);
    }
}
