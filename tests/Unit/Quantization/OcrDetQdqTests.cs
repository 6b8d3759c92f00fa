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

/// <summary>PaddleOCR's text detector (PP-OCRv4 det, opset 11, Conv/ConvTranspose/Resize, weights in
/// Constant nodes) quantized statically to QDQ int8: calibrated on tiles of one scanned page, evaluated on
/// tiles of another; its text-probability map must stay close to float's.</summary>
[Trait("Category", "TestData")]
public sealed class OcrDetQdqTests(ITestOutputHelper output)
{
    // Measured: MinMax and Entropy (128 bins: the full range, as the reference) SQNR 9.7 dB, cosine 0.951,
    // 99.0% of text pixels; Percentile 7.1 dB, cosine 0.917, but 99.8% of text pixels (it clips the
    // background's tail, not the text).
    [Theory]
    [InlineData(CalibrationMethod.MinMax, 7, 0.93, 0.97)]
    [InlineData(CalibrationMethod.Entropy, 7, 0.93, 0.97)]
    [InlineData(CalibrationMethod.Percentile, 5.5, 0.89, 0.99)]
    public void StaticInt8ProbabilityMapStaysCloseToFloat(CalibrationMethod method, double minSqnr, double minCosine, double minText)
    {
        var model = OnnxModel.Load(TestData.Require(TestData.OcrDet));
        var (calib, calibShape) = OcrData.PageTiles(Path.Combine(TestData.RepoRoot, ".testdata", "opencv", "imageTextR.png"));
        var table = Calibrator.Run(model, new object[] { new NamedTensor(model.Inputs[0].Name, calib, calibShape.Select(d => (long)d).ToArray()) },
            // Asymmetric ranges for every method (Percentile's default is symmetric): the figures above were measured so.
            new CalibrationOptions { Method = method, BatchSize = 1, Symmetric = false });
        // Opset 11: per-channel DequantizeLinear needs opset 13, so the Q/DQ nodes use the com.microsoft domain.
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Static(table) with { PerChannel = true, UseContribOps = true });
        output.WriteLine("quantized: " + string.Join(", ", result.QuantizedByOpType.Select(kv => $"{kv.Key} {kv.Value}")));
        foreach (var w in result.Warnings) output.WriteLine("warning " + w);

        var (x, shape) = OcrData.PageTiles(TextLineCrops.Page);
        var f = OcrData.Run(model, x, shape);
        var q = OcrData.Run(result.Model, x, shape);
        Assert.Equal(f.Length, q.Length);
        var e = ErrorMetrics.Summarize(f, q);
        // Text pixels: where float says text (p > 0.3, PaddleOCR's threshold), how often int8 does too.
        int text = 0, both = 0;
        for (int i = 0; i < f.Length; i++) if (f[i] > 0.3f) { text++; if (q[i] > 0.3f) both++; }
        long before = model.FileSize, after = result.Model.ToBytes().Length;
        output.WriteLine($"{method} det {string.Join("x", shape)}: SQNR {e.Sqnr:F1} dB, cosine {e.CosineSimilarity:F4}, max abs {e.MaxAbsError:F3}; " +
            $"text pixels kept {both}/{text}; weights {result.WeightBytesBefore} -> {result.WeightBytesAfter}; file {before} -> {after}");

        Assert.True(text > 1000, $"only {text} text pixels: the page tiles do not test anything");
        Assert.True(e.Sqnr > minSqnr, $"SQNR {e.Sqnr:F1} dB");
        Assert.True(e.CosineSimilarity > minCosine, $"cosine {e.CosineSimilarity:F4}");
        Assert.True(both >= text * minText, $"int8 keeps only {both}/{text} text pixels");
    }
}
