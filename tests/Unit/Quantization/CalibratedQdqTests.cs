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
    [InlineData(CalibrationMethod.Percentile, true)]
    public void CalibratedInt8StaysWithinOnePointOfFloat(CalibrationMethod method, bool perChannel)
    {
        var model = FashionData.Model;
        var table = Calibrator.Run(model, new object[] { TestData.Require(TestData.FashionCalib) }, new CalibrationOptions { Method = method, BatchSize = 50 });
        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Static(table) with { PerChannel = perChannel });
        double acc = FashionData.Accuracy(result.Model);
        output.WriteLine($"{method} {(perChannel ? "per-channel" : "per-tensor")}: int8 {acc:F2}% (float 91.25%), weights {result.WeightBytesBefore} -> {result.WeightBytesAfter}");
        Assert.True(acc >= 91.25 - 1.0, $"{acc:F2}%");
    }
}
