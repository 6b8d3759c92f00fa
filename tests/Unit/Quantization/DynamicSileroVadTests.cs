using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using EvoQuant.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace EvoQuant.Tests.Quantization;

/// <summary>Dynamic quantization of silero-vad, whose whole network lives in If branches (Conv, LSTM
/// inside nested subgraphs, weights in Constant nodes): the bodies are rewritten, the model runs, and
/// the speech probabilities over a stream of chunks (state carried) stay close to float.</summary>
[Trait("Category", "TestData")]
public sealed class DynamicSileroVadTests(ITestOutputHelper output)
{
    private const int Chunk = 512, Chunks = 24;

    [Fact]
    public void QuantizesConvAndLstmInsideIfBranchesAndTracksFloat()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.SileroVad));
        // Conv is named: by default dynamic quantization keeps it in float (ConvInteger is slower than
        // float Conv on ONNX Runtime's CPU provider); this test is about the ConvInteger rewrite itself.
        // Full 8-bit weights: the default pair-safe guard (x86 without VNNI) makes saturation impossible but
        // costs this model more than the rare saturation does (measured on an AVX2 EPYC: state cosine 0.951
        // with the guard, above 0.96 without); the bar below is the rewrite's, so it is measured without it.
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Dynamic() with
        {
            OpTypes = new[] { "Conv", "MatMul", "Gemm", "LSTM" },
            WeightSaturation = EvoQuant.Targets.SaturationGuard.None,
        });
        var q = result.Model;

        var ops = OpCounts.Of(q);
        output.WriteLine("quantized: " + string.Join(", ", result.QuantizedByOpType.Select(kv => $"{kv.Key} {kv.Value}")));
        output.WriteLine("ops: " + string.Join(", ", ops.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}")));
        foreach (var w in result.Warnings) output.WriteLine("warning " + w);
        foreach (var s in result.Skipped.Where(s => s.OpType is "LSTM" or "Conv")) output.WriteLine("skipped " + s);
        Assert.Equal(0, ops.GetValueOrDefault("LSTM"));
        Assert.Equal(4, ops.GetValueOrDefault("DynamicQuantizeLSTM"));
        Assert.Equal(0, ops.GetValueOrDefault("Conv"));
        Assert.True(ops.GetValueOrDefault("DynamicQuantizeLSTM") >= 2, "both LSTM branches quantized");
        Assert.True(ops.GetValueOrDefault("ConvInteger") >= 12, "the Convs of both branches quantized");

        long before = model.ToBytes().Length, after = q.ToBytes().Length;
        output.WriteLine($"file {before} -> {after} bytes ({(double)before / after:F2}x)");
        Assert.True(after * 2 < before, $"file only {(double)before / after:F2}x smaller");

        var (f, fs) = Run(model);
        var (qv, qs) = Run(q);
        // The synthetic stream is not speech to the model (probabilities stay near 0.001), so the
        // informative signal is the LSTM state it carries from chunk to chunk.
        double sqnr = ErrorMetrics.Sqnr(fs, qs), cos = ErrorMetrics.CosineSimilarity(fs, qs);
        double maxProb = ErrorMetrics.MaxAbsError(f, qv);
        output.WriteLine($"LSTM state over {Chunks} chunks: SQNR {sqnr:F1} dB, cosine {cos:F5}; speech probability max |diff| {maxProb:F4}");
        output.WriteLine("float: " + string.Join(" ", f.Select(v => v.ToString("F4"))));
        output.WriteLine("int8:  " + string.Join(" ", qv.Select(v => v.ToString("F4"))));
        Assert.True(cos > 0.96, $"state cosine {cos}"); // measured 0.978 (the ConvInteger encoder dominates; LSTM alone gives 0.998)
        Assert.True(sqnr > 11, $"state SQNR {sqnr} dB"); // measured 13.5
        Assert.True(maxProb < 0.01, $"speech probability differs by {maxProb}");
    }

    [Fact]
    public void QuantizesGemmCellsOfTheIflessExportReadingOuterScopeWeights()
    {
        // The opset-18 export unrolls the LSTM into Gemm cells inside If branches; their weights are
        // initializers of the main graph, read from the branches as outer-scope values.
        var model = OnnxModel.Load(TestData.Require(Path.Combine(Path.GetDirectoryName(TestData.SileroVad)!, "silero_vad_op18_ifless.onnx")));
        // Conv is named: by default dynamic quantization keeps it in float (ConvInteger is slower than
        // float Conv on ONNX Runtime's CPU provider); this test is about the ConvInteger rewrite itself.
        // Full 8-bit weights: the default pair-safe guard (x86 without VNNI) makes saturation impossible but
        // costs this model more than the rare saturation does (measured on an AVX2 EPYC: state cosine 0.951
        // with the guard, above 0.96 without); the bar below is the rewrite's, so it is measured without it.
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Dynamic() with
        {
            OpTypes = new[] { "Conv", "MatMul", "Gemm", "LSTM" },
            WeightSaturation = EvoQuant.Targets.SaturationGuard.None,
        });
        var ops = OpCounts.Of(result.Model);
        output.WriteLine("ops: " + string.Join(", ", ops.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}")));
        Assert.Equal(0, ops.GetValueOrDefault("Gemm"));
        Assert.Equal(4, ops.GetValueOrDefault("MatMulInteger"));
        Assert.Equal(12, ops.GetValueOrDefault("ConvInteger"));

        var (f, fs) = Run(model);
        var (q, qs) = Run(result.Model);
        double cos = ErrorMetrics.CosineSimilarity(fs, qs);
        output.WriteLine($"state cosine {cos:F5}, SQNR {ErrorMetrics.Sqnr(fs, qs):F1} dB, probability max |diff| {ErrorMetrics.MaxAbsError(f, q):F4}");
        Assert.True(cos > 0.96, $"state cosine {cos}");
    }

    /// <summary>Speech probabilities of a synthetic stream: silence, then voiced "syllables" (harmonics of a
    /// gliding pitch with a syllable-rate envelope), then noise, in 16 kHz chunks with the state carried.</summary>
    private static (float[] Probs, float[] States) Run(OnnxModel model)
    {
        using var session = new InferenceSession(model.ToBytes());
        var rng = new Random(7);
        var state = new DenseTensor<float>(new float[2 * 128], new[] { 2, 1, 128 });
        var probs = new float[Chunks];
        var states = new List<float>();
        for (int c = 0; c < Chunks; c++)
        {
            var x = new float[Chunk];
            for (int i = 0; i < Chunk; i++)
            {
                double t = (c * Chunk + i) / 16000.0;
                double noise = (rng.NextDouble() - 0.5) * 0.01;
                double voiced = 0;
                if (c >= 4 && c < 18)
                {
                    double f0 = 140 + 30 * Math.Sin(2 * Math.PI * 2 * t);
                    double env = 0.5 + 0.5 * Math.Sin(2 * Math.PI * 4 * t);
                    for (int h = 1; h <= 10; h++) voiced += Math.Sin(2 * Math.PI * f0 * h * t) / h;
                    voiced *= 0.3 * env;
                }
                else if (c >= 18) noise *= 20;
                x[i] = (float)(voiced + noise);
            }
            using var r = session.Run(new[]
            {
                NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x, new[] { 1, Chunk })),
                NamedOnnxValue.CreateFromTensor("state", state),
                NamedOnnxValue.CreateFromTensor("sr", new DenseTensor<long>(new long[] { 16000 }, Array.Empty<int>())),
            });
            probs[c] = ((DenseTensor<float>)r.First(v => v.Name == "output").Value).Buffer.Span[0];
            var s = (DenseTensor<float>)r.First(v => v.Name == "stateN").Value;
            state = new DenseTensor<float>(s.Buffer.ToArray(), new[] { 2, 1, 128 });
            states.AddRange(s.Buffer.ToArray());
        }
        return (probs, states.ToArray());
    }
}
