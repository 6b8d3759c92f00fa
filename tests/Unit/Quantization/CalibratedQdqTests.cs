using EvoQuant.Calibration;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using EvoQuant.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace EvoQuant.Tests.Quantization;

/// <summary>The real pipeline: Calibrator over the 200 calibration images, then static QDQ.</summary>
public sealed class CalibratedQdqTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(CalibrationMethod.MinMax, false)]
    [InlineData(CalibrationMethod.MinMax, true)]
    [InlineData(CalibrationMethod.Entropy, true)]
    [InlineData(CalibrationMethod.Entropy, false)]
    [InlineData(CalibrationMethod.Percentile, true)]
    [InlineData(CalibrationMethod.Percentile, false)]
    [InlineData(CalibrationMethod.Entropy, true, 2048)]
    public void CalibratedInt8StaysWithinOnePointOfFloat(CalibrationMethod method, bool perChannel, int bins = 0)
    {
        var model = FashionData.Model;
        var table = Calibrator.Run(model, new object[] { TestData.Require(TestData.FashionCalib) }, new CalibrationOptions { Method = method, Bins = bins, BatchSize = 50, Symmetric = false });
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Static(table) with { PerChannel = perChannel });
        double acc = FashionData.Accuracy(result.Model);
        output.WriteLine($"{method}{(bins > 0 ? $" {bins} bins" : "")} {(perChannel ? "per-channel" : "per-tensor")}: int8 {acc:F2}% (float 91.25%), weights {result.WeightBytesBefore} -> {result.WeightBytesAfter}");
        Assert.True(acc >= 91.25 - 1.0, $"{acc:F2}%");
    }

    /// <summary>Regression: a symmetric table puts [-6, 6] on ReLU6 outputs. Folding the Clip into such a
    /// range would let negative values through (it took top-1 to 12%); the Clip must stay.</summary>
    [Fact]
    public void SymmetricRangesKeepTheClipsAndTheAccuracy()
    {
        var model = FashionData.Model;
        var table = Calibrator.Run(model, new object[] { TestData.Require(TestData.FashionCalib) },
            new CalibrationOptions { Method = CalibrationMethod.Percentile, Symmetric = true, BatchSize = 50 });
        Assert.All(table.Ranges, r => Assert.Equal(-r.RangeMax, r.RangeMin));
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Static(table) with { PerChannel = true });
        Assert.Equal(11, result.Model.Proto.Graph.Node.Count(n => n.OpType == "Clip"));
        double acc = FashionData.Accuracy(result.Model);
        output.WriteLine($"symmetric Percentile per-channel: int8 {acc:F2}%");
        Assert.True(acc >= 91.25 - 2.0, $"{acc:F2}%");
    }
}
