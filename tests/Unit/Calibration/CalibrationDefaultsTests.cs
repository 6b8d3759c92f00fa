using EvoQuant.Calibration;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>Defaults that decide ranges live in Core, so every caller (cmdlet or library) gets the same table.</summary>
public sealed class CalibrationDefaultsTests
{
    [Theory]
    [InlineData(CalibrationMethod.MinMax, null, false)]
    [InlineData(CalibrationMethod.Entropy, null, false)]
    [InlineData(CalibrationMethod.Percentile, null, true)]
    [InlineData(CalibrationMethod.Percentile, false, false)]
    [InlineData(CalibrationMethod.MinMax, true, true)]
    public void Percentile_is_symmetric_unless_told_otherwise(CalibrationMethod method, bool? symmetric, bool expected)
    {
        Assert.Equal(expected, new CalibrationOptions { Method = method, Symmetric = symmetric }.ToSettings().Symmetric);
    }
}
