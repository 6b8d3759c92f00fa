using System.Diagnostics;
using System.Globalization;
using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Targets;
using EvoQuant.Text;

namespace EvoQuant.Bench;

/// <summary>
/// Issue 18's figures for a BERT-family sentence-embedding model (`dotnet run -c Release --project
/// bench/EvoQuant.Bench -- transformers [options]`): float against its int8 models on real sentences
/// (Debian's fortunes, <see cref="SentenceCorpus"/>), calibration and evaluation sets disjoint.
/// Per candidate: file size; mean and worst cosine of the pooled embeddings to float, Spearman correlation
/// of the query x document cosines and nearest-neighbour top-1 agreement (Compare-QuantAccuracy -Embedding,
/// i.e. <see cref="AccuracyComparer"/> with <see cref="EmbeddingOptions"/>); throughput at batch 32 x
/// sequence 128 (padded) against float, timed as Compare-QuantAccuracy times (<see cref="SpeedComparer"/>:
/// same session options and threads, warm-up, interleaved pairs), so the ratio is to float in the same run.
/// </summary>
/// <remarks>
/// Options (all optional):
///   --model minilm|arctic-xs|PATH   the float model (PATH: vocab.txt beside it unless --vocab); default minilm
///   --vocab PATH                    WordPiece vocabulary
///   --calibration N                 calibration sentences (default 256)
///   --queries N --documents N       evaluation sentences: N queries and N documents (default 500 x 2000)
///   --seed N                        corpus split seed (default 18)
///   --threads N                     ONNX Runtime intra-op threads for the timing (default: physical cores)
///   --candidate NAME=PATH           an int8 model file to evaluate too (repeatable): what another quantizer wrote
///   --variants LIST                 built-in variants, comma-separated, or none (default dynamic,static):
///                                   dynamic, dynamic-pc (per channel), static (QDQ), static-pc, static-qop (QOperator), static-entropy
///   --no-speed                      accuracy and size only
///   --out DIR                       where the built-in variants are written (default out/bench/transformers)
/// </remarks>
public static class TransformerCheck
{
    public static int Run(string[] args)
    {
        var o = Parse(args);
        string fortunes = BenchFiles.Fortunes;
        var corpus = SentenceCorpus.Load(fortunes);
        var parts = corpus.Split(o.Seed, o.Calibration, o.Queries, o.Documents);
        var encoder = new BertTextEncoder(o.Vocabulary, maxLength: 128);
        var model = OnnxModel.Load(o.Model);
        Directory.CreateDirectory(o.OutDir);

        var cpu = HostCpu.Current;
        Console.WriteLine($"CPU: {cpu.Model}; {cpu.InstructionSetText} ({cpu.InstructionSetSource}); {cpu.LogicalProcessors} logical, {cpu.PhysicalCores} physical cores");
        Console.WriteLine($"Model: {o.Model} ({Mb(o.Model):F1} MB); sentences: {parts[0].Count} calibration, {parts[1].Count} queries, {parts[2].Count} documents (seed {o.Seed}, of {corpus.Sentences.Count}, disjoint)");

        var candidates = new List<(string Name, string Path)>();
        var clock = Stopwatch.StartNew();
        if (o.Variants.Count > 0)
        {
            var host = TargetProfile.Resolve(QuantTarget.Host);
            CalibrationTable? minMax = null, entropy = null;
            CalibrationTable Table(CalibrationMethod method) => Calibrator.Run(model, encoder.EncodeBatches(parts[0], 16), new CalibrationOptions { Method = method });
            foreach (var v in o.Variants)
            {
                QuantizationOptions options = v switch
                {
                    "dynamic" => host.DynamicDefaults(),
                    "dynamic-pc" => host.DynamicDefaults() with { PerChannel = true },
                    "static" => host.StaticDefaults() with { ActivationRanges = QuantizationOptions.RangesOf(minMax ??= Table(CalibrationMethod.MinMax)) },
                    "static-pc" => host.StaticDefaults() with { PerChannel = true, ActivationRanges = QuantizationOptions.RangesOf(minMax ??= Table(CalibrationMethod.MinMax)) },
                    "static-qop" => host.StaticDefaults() with { Format = QuantFormat.QOperator, ActivationRanges = QuantizationOptions.RangesOf(minMax ??= Table(CalibrationMethod.MinMax)) },
                    "static-entropy" => host.StaticDefaults() with { ActivationRanges = QuantizationOptions.RangesOf(entropy ??= Table(CalibrationMethod.Entropy)) },
                    _ => throw new ArgumentException($"Unknown variant '{v}'."),
                };
                string path = Path.Combine(o.OutDir, $"{Path.GetFileNameWithoutExtension(o.Model)}.{v}.onnx");
                ModelQuantizer.Quantize(model, options).Model.Save(path);
                candidates.Add(($"EvoQuant {v}", path));
            }
            Console.WriteLine($"Calibrated and quantized {o.Variants.Count} variant(s) in {clock.Elapsed.TotalSeconds:F0} s (target {host.Resolved}).");
        }
        candidates.AddRange(o.Candidates);

        // Evaluation rows: the queries, then the documents, each set ordered by token count so that a batch
        // pads little (order within a set changes none of the figures). Timing rows: 32 sentences padded to 128.
        var queries = parts[1].OrderBy(s => encoder.EncodeIds(s).Length).ToList();
        var documents = parts[2].OrderBy(s => encoder.EncodeIds(s).Length).ToList();
        var evaluation = encoder.EncodeBatches(queries.Concat(documents), 32).Cast<object>().ToList();
        var timingEncoder = new BertTextEncoder(o.Vocabulary, maxLength: 128, padToMaxLength: true);
        var timing = new object[] { timingEncoder.Encode(parts[2].Take(32).ToList()) };
        var comparison = new ComparisonOptions
        {
            BatchSize = 32, CheckKernels = false,
            Embedding = new EmbeddingOptions { Queries = parts[1].Count, Documents = parts[2].Count },
        };

        Console.WriteLine();
        Console.WriteLine($"| {Path.GetFileName(Path.GetDirectoryName(o.Model))} candidate | file MB | smaller | cosine mean | cosine min | Spearman ({o.Queries} x {o.Documents}) | NN top-1 | output SQNR dB | batch 32 x 128: float / int8 ms | speedup |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |");
        foreach (var (name, path) in candidates)
        {
            var candidate = OnnxModel.Load(path);
            var r = AccuracyComparer.Compare(model, candidate, evaluation, comparison);
            var e = r.Embedding!;
            string speed = "", speedup = "";
            if (o.Speed)
            {
                var s = SpeedComparer.Measure(model, candidate, timing, new SpeedOptions { BatchSize = 32, Threads = o.Threads, MaxPairs = 20, MinPairs = 8, TimeBudget = TimeSpan.FromSeconds(20) });
                speed = F($"{s.Throughput.Reference.Median:F0} / {s.Throughput.Candidate.Median:F0} ({s.Throughput.Pairs} pairs, {s.Threads} threads)");
                speedup = F($"{s.Speedup:F2}x");
            }
            Console.WriteLine(F($"| {name} | {Mb(path):F1} | {Mb(o.Model) / Mb(path):F2}x | {e.MeanCosine:F4} | {e.MinCosine:F4} | {e.SpearmanCorrelation:F4} | {e.NeighbourAgreement:F1}% | {r.Summary.MinOutputSqnr:F1} | {speed} | {speedup} |"));
        }
        Console.WriteLine();
        Console.WriteLine($"Elapsed {clock.Elapsed.TotalMinutes:F1} min.");
        return 0;
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static double Mb(string path) => new FileInfo(path).Length / 1e6;

    private sealed record Options(string Model, string Vocabulary, int Calibration, int Queries, int Documents, int Seed, int Threads,
        List<(string, string)> Candidates, List<string> Variants, bool Speed, string OutDir);

    private static Options Parse(string[] args)
    {
        string model = "minilm";
        string? vocab = null, outDir = null;
        int calibration = 256, queries = 500, documents = 2000, seed = 18, threads = 0;
        bool speed = true;
        var candidates = new List<(string, string)>();
        var variants = new List<string> { "dynamic", "static" };
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--model": model = Next(); break;
                case "--vocab": vocab = Next(); break;
                case "--calibration": calibration = Int(); break;
                case "--queries": queries = Int(); break;
                case "--documents": documents = Int(); break;
                case "--seed": seed = Int(); break;
                case "--threads": threads = Int(); break;
                case "--no-speed": speed = false; break;
                case "--out": outDir = Next(); break;
                case "--variants":
                    string list = Next();
                    variants = list == "none" ? new() : list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
                    break;
                case "--candidate":
                    string c = Next();
                    int eq = c.IndexOf('=');
                    candidates.Add(eq > 0 ? (c[..eq], Path.GetFullPath(c[(eq + 1)..])) : (Path.GetFileName(c), Path.GetFullPath(c)));
                    break;
                default: throw new ArgumentException($"Unknown option '{args[i]}'; see TransformerCheck's remarks.");
            }
        }
        if (model is "minilm" or "arctic-xs") model = Path.Combine(BenchFiles.Transformer(model), "model.onnx");
        model = Path.GetFullPath(model);
        vocab ??= Path.Combine(Path.GetDirectoryName(model)!, "vocab.txt");
        outDir ??= Path.Combine(BenchFiles.Root, "out", "bench", "transformers");
        return new Options(model, vocab, calibration, queries, documents, seed, threads, candidates, variants, speed, outDir);
    }
}
