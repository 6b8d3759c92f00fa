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
/// <c>dotnet run -c Release --project bench/EvoQuant.Bench -- wo-gptq stats SENTENCES [BATCH] [padded]</c> collects the
/// input statistics of every weight-only MatMul over that many fortune sentences and prints the peak working
/// set (run 100 and 1000 in separate processes: it must not grow);
/// <c>-- wo-gptq quality CAL EVAL [BLOCK] [sym|asym] [MAXTOKENS] [embeddings8]</c> calibrates on CAL sentences, quantizes weight-only
/// (MatMulNBits) 4-bit with round-to-nearest and with GPTQ and 8-bit with round-to-nearest, and prints the mean embedding cosine of each
/// to float on EVAL other sentences (seeded disjoint split) and the MatMul weights' size ratio.</summary>
public static class WeightOnlyGptqCheck
{
    private static string MiniLm => BenchFiles.Transformer("minilm");

    public static int Run(string[] args)
    {
        if (args is ["decoder", ..]) return WeightOnlyDecoderCheck.Run(args[1..]); // the generated decoder, not MiniLM
        var model = OnnxModel.Load(Path.Combine(MiniLm, "model.onnx"));
        var encoder = new BertTextEncoder(Path.Combine(MiniLm, "vocab.txt"), maxLength: 128);
        var corpus = SentenceCorpus.Load(BenchFiles.Fortunes);
        switch (args)
        {
            case ["stats", var n, ..]:
            {
                int batch = args.Length > 2 ? int.Parse(args[2]) : 16;
                var sentences = corpus.Split(seed: 19, int.Parse(n))[0];
                // Every batch padded to the same [BATCH, 128]: the peak then depends on the batch, not on which sentences came.
                if (args.Length > 3 && args[3] == "padded") encoder = new BertTextEncoder(Path.Combine(MiniLm, "vocab.txt"), maxLength: 128, padToMaxLength: true);
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
                // 4-bit RTN and GPTQ, then 8-bit RTN and GPTQ, all blocks of BLOCK; a line per model as it is done.
                int block = args.Length > 3 ? int.Parse(args[3]) : 32;
                bool symmetric = args.Length <= 4 || args[4] != "asym";
                var split = corpus.Split(seed: 19, int.Parse(cal), int.Parse(eval));
                // Sentences of similar length batched together (less padding to run); every model sees the same order.
                split[1] = split[1].OrderBy(t => t.Length).ThenBy(t => t, StringComparer.Ordinal).ToList();
                if (args.Length > 5) encoder = new BertTextEncoder(Path.Combine(MiniLm, "vocab.txt"), maxLength: int.Parse(args[5]));
                var clock = Stopwatch.StartNew();
                var baseOptions = new WeightOnlyOptions { BlockSize = block, Symmetric = symmetric, Form = WeightOnlyForm.MatMulNBits };
                // `embeddings8`: the Gather tables keep 8 bits (-KeepEightBit 'Gather*'), only 4-bit GPTQ is run.
                bool embeddings8 = args.Length > 6 && args[6] == "embeddings8";
                if (embeddings8) baseOptions = baseOptions with { EightBitNodes = new[] { "Gather*" } };
                var prepared = WeightOnlyCalibration.Prepare(model, QuantizationOptions.ForWeightOnly(baseOptions with { Method = GptqMethod.Default }),
                    encoder.EncodeBatches(split[0], 16).Cast<object>(), new CalibrationOptions { BatchSize = 16 });
                var stats = prepared.Options.WeightOnly.InputStatistics!;
                Console.WriteLine($"statistics of {stats.Count} inputs from {split[0].Count} sentences ({prepared.Samples} sentence rows, {stats.Values.Max(s => s.RowCount)} token rows): {clock.Elapsed.TotalSeconds:F1} s");
                clock.Restart();
                var reference = SentenceEmbedder.Embed(model, encoder, split[1], 32, out int hidden);
                Console.WriteLine($"float embeddings of {split[1].Count} sentences: {clock.Elapsed.TotalSeconds:F1} s");
                foreach (var (bits, method) in new (int, IWeightOnlyMethod)[] { (4, RoundToNearestMethod.Instance), (4, GptqMethod.Default), (8, RoundToNearestMethod.Instance) }.Where(m => !embeddings8 || m.Item2 is GptqMethod))
                    {
                        clock.Restart();
                        var result = ModelQuantizer.Quantize(model, QuantizationOptions.ForWeightOnly(baseOptions with { Bits = bits, Method = method, InputStatistics = stats }));
                        double seconds = clock.Elapsed.TotalSeconds;
                        var embedded = SentenceEmbedder.Embed(result.Model, encoder, split[1], 32, out _);
                        var cosines = SentenceEmbeddings.RowCosines(reference, embedded, hidden);
                        var mm = result.WeightOnlyLayers.Where(l => l.OpType == "MatMul").ToList();
                        double mmRatio = (double)mm.Sum(l => l.BytesBefore) / mm.Sum(l => l.BytesAfter);
                        Console.WriteLine($"QUALITY {method.Name,-5} bits={bits}{(embeddings8 ? " (embeddings 8)" : "")} block={block} {(symmetric ? "sym" : "asym")} mean-cosine={cosines.Average():F5} min={cosines.Min():F4} " +
                            $"matmul-weights {mm.Sum(l => l.BytesBefore) / 1048576.0:F2} -> {mm.Sum(l => l.BytesAfter) / 1048576.0:F2} MiB ({mmRatio:F2}x, {mm.Count} MatMuls) " +
                            $"all-weights {result.WeightBytesBefore / 1048576.0:F1} -> {result.WeightBytesAfter / 1048576.0:F1} MiB quantize={seconds:F1}s eval={split[1].Count}");
                    }
                return 0;
            }
            default:
                Console.Error.WriteLine("usage: wo-gptq stats SENTENCES [BATCH] | wo-gptq quality CAL EVAL [BLOCK] [sym|asym] [MAXTOKENS] | wo-gptq decoder ...");
                return 2;
        }
    }

}
