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

/// <summary>Dynamic quantization of PaddleOCR's recogniser (opset 9, weights in Constant nodes, 13 MatMul
/// in its attention neck): MatMuls with constant weights become DynamicQuantizeMatMul, the model runs on
/// real text-line crops ([N,3,48,320]) and its per-character class probabilities stay close to float.</summary>
[Trait("Category", "TestData")]
public sealed class DynamicOcrRecTests(ITestOutputHelper output)
{
    private const int Width = 320, Crops = 8;

    [Fact]
    public void ReplacesWeightMatMulsAndKeepsRecognitionClose()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.OcrRec));
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Dynamic());
        var q = result.Model;
        output.WriteLine("quantized: " + string.Join(", ", result.QuantizedByOpType.Select(kv => $"{kv.Key} {kv.Value}")));
        foreach (var s in result.Skipped.Where(s => s.OpType is "MatMul" or "Conv")) output.WriteLine("skipped " + s);
        foreach (var w in result.Warnings) output.WriteLine("warning " + w);

        var ops = OpCounts.Of(q);
        // The 9 MatMuls with a constant weight are replaced; the 4 attention products (both inputs computed) stay.
        Assert.Equal(9, ops.GetValueOrDefault("DynamicQuantizeMatMul"));
        Assert.Equal(4, ops.GetValueOrDefault("MatMul"));
        Assert.True(result.WeightBytesAfter < result.WeightBytesBefore, "weights smaller");
        long before = model.ToBytes().Length, after = q.ToBytes().Length;
        output.WriteLine($"weights {result.WeightBytesBefore} -> {result.WeightBytesAfter}; file {before} -> {after} bytes ({(double)before / after:F2}x)");
        Assert.True(after < before * 0.85, $"file {before} -> {after}");

        var x = Inputs();
        var (f, qv) = (Run(model, x), Run(q, x));
        double sqnr = ErrorMetrics.Sqnr(f, qv), cos = ErrorMetrics.CosineSimilarity(f, qv);
        double agree = ArgmaxAgreement(f, qv, 6625);
        output.WriteLine($"{Crops} crops: SQNR {sqnr:F1} dB, cosine {cos:F4}, per-step argmax agreement {agree:P1}");
        Assert.True(cos > 0.999, $"cosine {cos}"); // measured 0.9999
        Assert.True(sqnr > 30, $"SQNR {sqnr} dB"); // measured 37.3
        Assert.True(agree > 0.97, $"argmax agreement {agree}"); // measured 100%
    }

    /// <summary>Upright text-line crops (48x192) padded right with zeros to 48x320, as PaddleOCR pads.</summary>
    private static float[] Inputs()
    {
        var (crops, count) = TextLineCrops.Load();
        Assert.True(count >= 2 * Crops, $"only {count} crops");
        int h = TextLineCrops.H, w = TextLineCrops.W;
        var x = new float[Crops * 3 * h * Width];
        for (int n = 0; n < Crops; n++)
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < h; y++)
                    Array.Copy(crops, ((2 * n * 3 + c) * h + y) * w, x, ((n * 3 + c) * h + y) * Width, w);
        return x;
    }

    private static float[] Run(OnnxModel model, float[] x)
    {
        using var session = new InferenceSession(model.ToBytes());
        using var r = session.Run(new[] { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, new[] { Crops, 3, TextLineCrops.H, Width })) });
        return ((DenseTensor<float>)r.First().Value).Buffer.ToArray();
    }

    private static double ArgmaxAgreement(float[] a, float[] b, int classes)
    {
        int steps = a.Length / classes, same = 0;
        for (int s = 0; s < steps; s++)
        {
            var sa = a.AsSpan(s * classes, classes);
            var sb = b.AsSpan(s * classes, classes);
            if (sa.IndexOf(MaxOf(sa)) == sb.IndexOf(MaxOf(sb))) same++;
        }
        return (double)same / steps;
    }

    private static float MaxOf(ReadOnlySpan<float> s)
    {
        float m = float.NegativeInfinity;
        foreach (var v in s) if (v > m) m = v;
        return m;
    }
}
