using System.Diagnostics;
using EvoQuant.Calibration;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Quantization.WeightOnly;
using EvoQuant.Text;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Bench;

/// <summary>GPTQ on all-MiniLM-L6-v2 (issue 19), in one process per case:
/// <c>dotnet run -c Release --project bench/EvoQuant.Bench -- wo-gptq stats SENTENCES [BATCH]</c> collects the
/// input statistics of every weight-only MatMul over that many fortune sentences and prints the peak working
/// set (run 100 and 1000 in separate processes: it must not grow);
/// <c>-- wo-gptq quality CAL EVAL [BITS] [BLOCK] [sym|asym]</c> calibrates on CAL sentences, quantizes weight-only
/// (MatMulNBits) with round-to-nearest and with GPTQ, and prints the mean embedding cosine of each to float on
/// EVAL other sentences (seeded disjoint split).</summary>
public static class WeightOnlyGptqCheck
{
    private static string MiniLm => Path.Combine(BenchFiles.Root, ".testdata", "transformers", "minilm");

    public static int Run(string[] args)
    {
        var model = OnnxModel.Load(Path.Combine(MiniLm, "model.onnx"));
        var encoder = new BertTextEncoder(Path.Combine(MiniLm, "vocab.txt"), maxLength: 128);
        var corpus = SentenceCorpus.Load(Path.Combine(BenchFiles.Root, ".testdata", "fortunes"));
        switch (args)
        {
            case ["stats", var n, ..]:
            {
                int batch = args.Length > 2 ? int.Parse(args[2]) : 16;
                var sentences = corpus.Split(seed: 19, int.Parse(n))[0];
                var clock = Stopwatch.StartNew();
                using var collector = new InputStatisticsCollector(model, QuantizationOptions.ForWeightOnly(), new CalibrationOptions { BatchSize = batch });
                double setup = clock.Elapsed.TotalSeconds;
                foreach (var sample in encoder.EncodeBatches(sentences, batch)) collector.Add(sample);
                var stats = collector.Complete();
                long peak = Process.GetCurrentProcess().PeakWorkingSet64;
                long gramBytes = stats.Values.Sum(s => s.Gram.LongLength * sizeof(double));
                Console.WriteLine($"STATS sentences={n} batch={batch} rows={stats.Values.Max(s => s.RowCount)} tensors={stats.Count} gramMiB={gramBytes / 1048576.0:F1} " +
                    $"peakMiB={peak / 1048576.0:F1} seconds={clock.Elapsed.TotalSeconds:F1} setup={setup:F1}");
                return 0;
            }
            case ["quality", var cal, var eval, ..]:
            {
                int bits = args.Length > 3 ? int.Parse(args[3]) : 4;
                int block = args.Length > 4 ? int.Parse(args[4]) : 32;
                bool symmetric = args.Length <= 5 || args[5] != "asym";
                var split = corpus.Split(seed: 19, int.Parse(cal), int.Parse(eval));
                var clock = Stopwatch.StartNew();
                var baseOptions = new WeightOnlyOptions { Bits = bits, BlockSize = block, Symmetric = symmetric, Form = WeightOnlyForm.MatMulNBits };
                var stats = InputStatisticsCollector.Collect(model, QuantizationOptions.ForWeightOnly(baseOptions), encoder.EncodeBatches(split[0], 16), new CalibrationOptions { BatchSize = 16 });
                Console.WriteLine($"statistics of {stats.Count} inputs from {split[0].Count} sentences ({stats.Values.Max(s => s.RowCount)} token rows): {clock.Elapsed.TotalSeconds:F1} s");

                var reference = Embed(model, encoder, split[1], out int hidden);
                var methods = new (string Name, IWeightOnlyMethod Method)[]
                {
                    ("RTN", RoundToNearestMethod.Instance), ("GPTQ", GptqMethod.Default), ("GPTQ act-order", new GptqMethod { ActOrder = true }),
                };
                foreach (var (name, method) in methods)
                {
                    clock.Restart();
                    var result = ModelQuantizer.Quantize(model, QuantizationOptions.ForWeightOnly(baseOptions with { Method = method, InputStatistics = stats }));
                    double seconds = clock.Elapsed.TotalSeconds;
                    var embedded = Embed(result.Model, encoder, split[1], out _);
                    var cosines = Enumerable.Range(0, split[1].Count).Select(r => (double)SentenceEmbeddings.Cosine(reference, embedded, r, hidden)).ToArray();
                    Console.WriteLine($"QUALITY {name,-15} bits={bits} block={block} {(symmetric ? "sym" : "asym")} mean-cosine={cosines.Average():F5} min={cosines.Min():F4} " +
                        $"weights {result.WeightBytesBefore / 1048576.0:F1} -> {result.WeightBytesAfter / 1048576.0:F1} MiB quantize={seconds:F1}s eval={split[1].Count}");
                }
                return 0;
            }
            default:
                Console.Error.WriteLine("usage: wo-gptq stats SENTENCES [BATCH] | wo-gptq quality CAL EVAL [BITS] [BLOCK] [sym|asym]");
                return 2;
        }
    }

    private static float[] Embed(OnnxModel model, BertTextEncoder encoder, IReadOnlyList<string> sentences, out int hidden)
    {
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(model.ToBytes(), options);
        string output = session.OutputMetadata.Keys.First();
        var result = new List<float>();
        hidden = 0;
        using var run = new RunOptions();
        foreach (var sample in encoder.EncodeBatches(sentences, 32))
        {
            var names = sample.Tensors.Where(t => session.InputMetadata.ContainsKey(t.Name!)).ToList();
            var values = names.Select(t => t.ToOrtValue()).ToList();
            try
            {
                using var outputs = session.Run(run, names.Select(t => t.Name!).ToList(), values, new[] { output });
                var shape = outputs[0].GetTensorTypeAndShape().Shape;
                hidden = (int)shape[2];
                var mask = (long[])sample[BertTextEncoder.AttentionMaskName]!.Data;
                result.AddRange(SentenceEmbeddings.MeanPool(outputs[0].GetTensorDataAsSpan<float>(), mask, (int)shape[0], (int)shape[1], hidden));
            }
            finally
            {
                foreach (var v in values) v.Dispose();
            }
        }
        return result.ToArray();
    }
}
