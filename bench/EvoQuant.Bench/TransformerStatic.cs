using System.Globalization;
using EvoQuant.Calibration;
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
/// Static int8 of a BERT-family sentence-embedding model as a user makes it with the defaults
/// (`dotnet run -c Release --project bench/EvoQuant.Bench -- tf-static [minilm|arctic-xs] [calibration] [evaluation] [rounds]`):
/// Measure-Calibration's default method on <c>calibration</c> fortune sentences, Invoke-Quantization's
/// defaults for this CPU (-Target Host), then on <c>evaluation</c> other sentences the cosine of each
/// mean-pooled embedding to float's (mean and worst), file sizes, and speed (SpeedComparer's paired runs at
/// batch 32, sequence 128), and the Spearman correlation of up to 500 queries' cosines to all other sentences.
/// The defaults split the outlier channels with the channel ranges of the calibration sentences, as
/// Invoke-Quantization -CalibrationData does (variant `nosplit`: without them).
/// </summary>
public static class TransformerStatic
{
    public static int Run(string[] args)
    {
        string which = args.Length > 0 ? args[0] : "minilm";
        int calibration = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 128;
        int evaluation = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2000;
        int rounds = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 3;
        string folder = BenchFiles.Transformer(which);
        var model = OnnxModel.Load(Path.Combine(folder, "model.onnx"));
        var corpus = SentenceCorpus.Load(BenchFiles.Fortunes);
        var parts = corpus.Split(18, calibration, evaluation);
        var encoder = new BertTextEncoder(Path.Combine(folder, "vocab.txt"));
        var inputs = model.Graph.Proto.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        Sample Fit(Sample s) => new(s.Tensors.Where(t => inputs.Contains(t.Name)).ToList(), s.Source);

        var cpu = HostCpu.Current;
        Console.WriteLine($"CPU: {cpu.Model}; {cpu.InstructionSetText}; {cpu.LogicalProcessors} logical processors");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var method = Enum.Parse<CalibrationMethod>(Environment.GetEnvironmentVariable("TF_METHOD") is { Length: > 0 } m ? m : "MinMax");
        var table = Calibrator.Run(model, encoder.EncodeBatches(parts[0], 16).Select(Fit).Cast<object>().ToList(), new CalibrationOptions { Method = method });
        Console.WriteLine($"calibration: {calibration} sentences, {table.Ranges.Count} tensors, {clock.Elapsed.TotalSeconds:F1} s");
        if (Environment.GetEnvironmentVariable("TF_OUTLIERS") == "1")
        {
            // How concentrated the down projections' input outliers are: the per-tensor range after removing the top-k channels.
            var ranges = table.ChannelRanges;
            foreach (var d in FeedForwardProjections.DownProjections(model.Graph))
            {
                var r = ranges[d.Input[0]];
                var order = Enumerable.Range(0, r.Channels).OrderByDescending(r.AbsMax).ToArray();
                float Rest(int k) => order.Skip(k).Max(r.AbsMax);
                var median = order.Select(r.AbsMax).OrderBy(v => v).ElementAt(r.Channels / 2);
                Console.WriteLine($"{d.Name} {d.Input[0]} [{r.Min.Min():G3}, {r.Max.Max():G3}] median channel |max| {median:G3}; |max| without top k: "
                    + string.Join(", ", new[] { 0, 1, 2, 4, 8, 16, 32, 64 }.Select(k => $"{k}: {Rest(k):G3}")) + "; top channels " + string.Join(" ", order.Take(8)));
            }
            foreach (var (t, r) in ranges.Where(kv => !FeedForwardProjections.DownProjections(model.Graph).Any(d => d.Input[0] == kv.Key)))
            {
                var order = Enumerable.Range(0, r.Channels).OrderByDescending(r.AbsMax).ToArray();
                float Rest(int k) => order.Skip(k).Max(r.AbsMax);
                Console.WriteLine($"  other {t}: " + string.Join(", ", new[] { 0, 1, 2, 4, 8, 16 }.Select(k => $"{k}: {Rest(k):G3}")));
            }
            return 0;
        }
        var options = TargetProfile.Resolve(QuantTarget.Host).StaticDefaults() with { ActivationRanges = QuantizationOptions.RangesOf(table) };
        // Variants for exploring (environment): TF_OPTYPES=MatMul,Gather  TF_PERCHANNEL=1  TF_EXCLUDE=pattern,...
        if (Environment.GetEnvironmentVariable("TF_OPTYPES") is { Length: > 0 } ops) options = options with { OpTypes = ops.Split(',') };
        if (Environment.GetEnvironmentVariable("TF_PERCHANNEL") == "1") options = options with { PerChannel = true };
        if (Environment.GetEnvironmentVariable("TF_GUARD") is { Length: > 0 } g) options = options with { WeightSaturation = Enum.Parse<SaturationGuard>(g) };
        if (Environment.GetEnvironmentVariable("TF_EXCLUDE") is { Length: > 0 } ex) options = options with { ExcludeNodes = ex.Split(',') };
        // SmoothQuant-style migration, variants in one run: TF_SMOOTH=none,0.5,0.5:nomul,0.75:noguard ... (alpha,
        // ":nomul" folds only, inserting no Mul; ":noguard" with full 8-bit weights); calibrated once.
        var specs = (Environment.GetEnvironmentVariable("TF_SMOOTH") is { Length: > 0 } sa ? sa : "none").Split(',');
        // The defaults split the outlier channels with the channel ranges the calibration table keeps; "nosplit" is the
        // defaults without them.
        IReadOnlyDictionary<string, ChannelRange>? channels = table.ChannelRanges;
        options = options.WithChannelRanges(channels);
        float[]? reference = null;
        int hidden = 0;
        var baseOptions = options;
        foreach (var spec in specs)
        {
            options = baseOptions;
            var parts2 = spec.Split(':');
            if (parts2[0] == "nosplit") options = options with { OutlierSplit = null };
            else if (parts2[0] == "split")
            {
                // split:ratio:max[:down][:nokeep]: outlier split of every MatMul input (or the down projections' only);
                // nokeep quantizes the first down projection too.
                var downInputs = FeedForwardProjections.DownProjections(model.Graph).Select(d => d.Input[0]).ToHashSet();
                var chosen = parts2.Contains("down") ? channels.Where(kv => downInputs.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value) : channels;
                options = options with
                {
                    OutlierSplit = new OutlierSplitOptions { Ratio = double.Parse(parts2[1], CultureInfo.InvariantCulture), MaxChannels = int.Parse(parts2[2], CultureInfo.InvariantCulture), ChannelRanges = chosen },
                    KeepFirstDownProjectionFloat = !parts2.Contains("nokeep"),
                };
                if (Environment.GetEnvironmentVariable("TF_SPLITCOST") == "1")
                {
                    // What the split's float nodes cost alone: float model against the split float model.
                    var splitFloat = OutlierChannelSplit.Split(model, options.OutlierSplit!).Model;
                    var fixedEnc = new BertTextEncoder(Path.Combine(folder, "vocab.txt"), 128, padToMaxLength: true);
                    var b = Fit(fixedEnc.Encode(parts[1].Take(32).ToList()));
                    for (int r = 1; r <= 2; r++)
                    {
                        var sc = SpeedComparer.Measure(model, splitFloat, new object[] { b }, new SpeedOptions { BatchSize = 32, MaxPairs = 20, TimeBudget = TimeSpan.FromSeconds(20) });
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"split float cost {r}: float {sc.Throughput.Reference.Median:F1} ms, split float {sc.Throughput.Candidate.Median:F1} ms, ratio {sc.Speedup:F3}"));
                    }
                }
            }
            else if (parts2[0] != "none")
            {
                options = options with { Smoothing = new SmoothingOptions { Alpha = double.Parse(parts2[0], CultureInfo.InvariantCulture), InsertMul = !parts2.Contains("nomul"), ChannelRanges = channels } };
                var probe = ActivationSmoothing.Smooth(model, options.Smoothing);
                Console.WriteLine($"smoothing {spec}: {probe.Folded} inputs folded into their producer, {probe.Inserted} Muls inserted, {probe.Weights} weights scaled");
            }
            if (parts2.Contains("noguard")) options = options with { WeightSaturation = SaturationGuard.None };
            Console.WriteLine($"== variant {spec}");
            RunVariant(model, options, folder, encoder, parts, evaluation, rounds, Fit, ref reference, ref hidden);
        }
        return 0;
    }

    private static void RunVariant(OnnxModel model, QuantizationOptions options, string folder, BertTextEncoder encoder, IReadOnlyList<string>[] parts, int evaluation, int rounds,
        Func<Sample, Sample> Fit, ref float[]? reference, ref int hidden)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = ModelQuantizer.Quantize(model, options);
        Console.WriteLine($"quantization: {clock.Elapsed.TotalSeconds:F1} s; quantized {string.Join(", ", result.QuantizedByOpType.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}"))}");
        foreach (var d in result.TargetDecisions) Console.WriteLine($"  {d}");

        string dir = Directory.CreateTempSubdirectory("tf-static-").FullName;
        string qPath = Path.Combine(dir, "int8.onnx");
        result.Model.Save(qPath);
        long floatBytes = new FileInfo(Path.Combine(folder, "model.onnx")).Length, quantBytes = new FileInfo(qPath).Length;
        Console.WriteLine($"file: {floatBytes / 1e6:F1} MB -> {quantBytes / 1e6:F1} MB ({(double)floatBytes / quantBytes:F2}x smaller)");

        var quantModel = OnnxModel.Load(qPath);
        reference ??= SentenceEmbedder.Embed(model, encoder, parts[1], 32, out hidden);
        var quantEmbeddings = SentenceEmbedder.Embed(quantModel, encoder, parts[1], 32, out _);
        var cosines = SentenceEmbeddings.RowCosines(reference, quantEmbeddings, hidden);
        var (mean, min) = (cosines.Average(), cosines.Min());
        Console.WriteLine($"embedding cosine to float on {evaluation} sentences: mean {mean:F4}, min {min:F4}");
        // Ranking as tf-dynamic measures it: the first quarter (at most 500) of the sentences as queries against all others.
        int queries = Math.Min(500, evaluation / 4);
        if (queries > 0)
        {
            var (spearman, top1) = TransformerDynamic.Ranking(reference, quantEmbeddings, evaluation, queries);
            Console.WriteLine($"ranking, {queries} queries x {evaluation - 1} documents: Spearman {spearman:F4}, top-1 NN {top1:P1}");
        }

        if (Environment.GetEnvironmentVariable("TF_PERTENSOR") == "1")
        {
            var report = AccuracyComparer.Compare(model, result.Model, encoder.EncodeBatches(parts[1].Take(32), 16).Select(Fit).Cast<object>().ToList(),
                new ComparisonOptions { PerTensor = true, Provenance = result.Provenance, CheckKernels = false });
            foreach (var n in report.Nodes.OrderBy(n => n.OwnSqnr).Take(15))
                Console.WriteLine($"  node {n.Node} ({n.OpType}) own {n.OwnSqnr:F1} dB, accumulated {n.AccumulatedSqnr:F1} dB, output Q/DQ {n.OutputQdqSqnr:F1}");
            foreach (var t in report.Tensors.Where(t => t.QdqSqnr != null).OrderBy(t => t.QdqSqnr).Take(10))
                Console.WriteLine($"  tensor {t.Tensor} Q/DQ alone {t.QdqSqnr:F1} dB, range [{t.QuantRangeMin:G3}, {t.QuantRangeMax:G3}]");
        }
        var fixedEncoder = new BertTextEncoder(Path.Combine(folder, "vocab.txt"), 128, padToMaxLength: true);
        var batch = Fit(fixedEncoder.Encode(parts[1].Take(32).ToList()));
        if (Environment.GetEnvironmentVariable("TF_PROFILE") is { Length: > 0 } rows)
        {
            // Where the time goes: ONNX Runtime's per-node profile of both models, summed by the op type that ran.
            int n = int.Parse(rows, CultureInfo.InvariantCulture);
            var inputs = batch.Tensors.ToDictionary(t => t.Name, t => t.SliceRows(0, n).WithName(t.Name));
            var pf = RuntimeProfiler.Profile(model, inputs, 2, 5);
            var pq = RuntimeProfiler.Profile(quantModel, inputs, 2, 5);
            Console.WriteLine($"profile, batch {n} x 128: float {pf.TotalMicroseconds / 1000:F1} ms, int8 {pq.TotalMicroseconds / 1000:F1} ms");
            foreach (var (name, p) in new[] { ("float", pf), ("int8", pq) })
                foreach (var g in p.Nodes.GroupBy(x => x.OpType).OrderByDescending(g => g.Sum(x => x.MedianMicroseconds)))
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name} {g.Key}: {g.Count()} nodes, {g.Sum(x => x.MedianMicroseconds) / 1000:F2} ms"));
            foreach (var x in pq.Nodes.Where(x => x.OpType is "Add" or "MatMul" or "DequantizeLinear" or "QuantizeLinear" or "BiasGelu").OrderByDescending(x => x.MedianMicroseconds).Take(40))
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  int8 node {x.Node} {x.OpType} {x.MedianMicroseconds / 1000:F2} ms [{string.Join(",", x.Inputs)}]"));
        }
        for (int r = 1; r <= rounds; r++)
        {
            var s = SpeedComparer.Measure(model, quantModel, new object[] { batch }, new SpeedOptions { BatchSize = 32, MaxPairs = 20, TimeBudget = TimeSpan.FromSeconds(20) });
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {r}: {s.Threads} threads, batch 32 x 128: float {s.Throughput.Reference.Median:F1} ms, int8 {s.Throughput.Candidate.Median:F1} ms, speedup {s.Speedup:F2}x; batch 1: {s.LatencySpeedup:F2}x"));
        }
        Directory.Delete(dir, true);
    }

}
