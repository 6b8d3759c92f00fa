using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using EvoQuant.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace EvoQuant.Tests.Quantization;

/// <summary>PaddleOCR's recogniser (PP-OCRv4 rec, opset 9, CNN + attention neck with MatMuls) quantized
/// statically to QDQ int8: calibrated on some upright text-line crops, evaluated on others ([N,3,48,320]);
/// its per-step character probabilities must stay close to float's.</summary>
[Trait("Category", "TestData")]
public sealed class OcrRecQdqTests(ITestOutputHelper output)
{
    private const int Classes = 6625;

    // Measured: MinMax and Entropy (128 bins) SQNR 11.1 dB, cosine 0.961, argmax 93.9%; Percentile 12.4 dB,
    // 0.971, 95.5%.
    [Theory]
    [InlineData(CalibrationMethod.MinMax)]
    [InlineData(CalibrationMethod.Percentile)]
    [InlineData(CalibrationMethod.Entropy)]
    public void StaticInt8CharacterProbabilitiesStayCloseToFloat(CalibrationMethod method)
    {
        var model = OnnxModel.Load(TestData.Require(TestData.OcrRec));
        var (calib, calibShape) = OcrData.RecInputs(0, 16);
        var table = Calibrator.Run(model, new object[] { new NamedTensor(model.Inputs[0].Name, calib, calibShape.Select(d => (long)d).ToArray()) },
            new CalibrationOptions { Method = method, BatchSize = 8 });
        // Opset 9: per-channel DequantizeLinear needs opset 13, so the Q/DQ nodes use the com.microsoft domain.
        // Full 8-bit weights: on x86 without VNNI the default pair-safe guard costs this model more than the
        // rare saturation does (measured on an AVX2 EPYC: 7.8 dB with the guard); see TargetTests for the guard.
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Static(table) with
        {
            PerChannel = true, UseContribOps = true, WeightSaturation = EvoQuant.Targets.SaturationGuard.None,
        });
        output.WriteLine("quantized: " + string.Join(", ", result.QuantizedByOpType.Select(kv => $"{kv.Key} {kv.Value}")));
        foreach (var w in result.Warnings) output.WriteLine("warning " + w);

        var (x, shape) = OcrData.RecInputs(16, 16);
        var f = OcrData.Run(model, x, shape);
        var q = OcrData.Run(result.Model, x, shape);
        Assert.Equal(f.Length, q.Length);
        var e = ErrorMetrics.Summarize(f, q);
        int steps = f.Length / Classes, agree = 0;
        for (int s = 0; s < steps; s++)
            if (Argmax(f.AsSpan(s * Classes, Classes)) == Argmax(q.AsSpan(s * Classes, Classes))) agree++;
        long before = model.FileSize, after = result.Model.ToBytes().Length;
        output.WriteLine($"{method} rec {string.Join("x", shape)}: SQNR {e.Sqnr:F1} dB, cosine {e.CosineSimilarity:F4}, per-step argmax agreement {agree}/{steps}; " +
            $"weights {result.WeightBytesBefore} -> {result.WeightBytesAfter}; file {before} -> {after}");

        Assert.True(e.Sqnr > 8, $"SQNR {e.Sqnr:F1} dB");
        Assert.True(e.CosineSimilarity > 0.94, $"cosine {e.CosineSimilarity:F4}");
        Assert.True(agree >= steps * 0.9, $"per-step argmax agrees on only {agree}/{steps}");
    }

    private static int Argmax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
