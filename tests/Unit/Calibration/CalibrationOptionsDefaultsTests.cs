using EvoQuant.Calibration;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>The calibration defaults live in Core's options: a caller that does not choose gets the
/// method's default, whether it is the cmdlet or a program.</summary>
public sealed class CalibrationOptionsDefaultsTests
{
    [Theory]
    [InlineData(CalibrationMethod.MinMax, false)]
    [InlineData(CalibrationMethod.Entropy, false)]
    [InlineData(CalibrationMethod.Percentile, true)]
    public void SymmetricNotGivenIsTheMethodsDefault(CalibrationMethod method, bool symmetric)
    {
        Assert.Equal(symmetric, new CalibrationOptions { Method = method }.ToSettings().Symmetric);
    }

    [Theory]
    [InlineData(CalibrationMethod.MinMax)]
    [InlineData(CalibrationMethod.Entropy)]
    [InlineData(CalibrationMethod.Percentile)]
    public void SymmetricGivenWinsOverTheDefault(CalibrationMethod method)
    {
        Assert.True(new CalibrationOptions { Method = method, Symmetric = true }.ToSettings().Symmetric);
        Assert.False(new CalibrationOptions { Method = method, Symmetric = false }.ToSettings().Symmetric);
    }
}
