using EvoQuant.Quantization;
using EvoQuant.Quantization.Smoothing;
using EvoQuant.Targets;
using EvoQuant.Tests.Evaluation;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Transformers;

/// <summary>One pass of channel ranges for the outlier split and smoothing, and none where nothing can use it.</summary>
[Trait("Category", "TestData")]
public sealed class ChannelRangeMeasurementTests(SmoothingTests.MiniLmChannels miniLm) : IClassFixture<SmoothingTests.MiniLmChannels>
{
    private static QuantizationOptions StaticDefaults => TargetProfile.Resolve(QuantTarget.X64Avx2).StaticDefaults();

    [Fact]
    public void A_model_without_matmuls_needs_no_pass_for_the_default_split_and_the_samples_are_never_read()
    {
        var options = StaticDefaults;
        Assert.NotNull(options.OutlierSplit);
        Assert.Contains("no MatMul", ChannelRangeMeasurement.NotNeeded(FashionWorkload.Model, options, null));

        var unchanged = ChannelRangeMeasurement.Apply(FashionWorkload.Model, options, null, Unreadable());
        Assert.Same(options, unchanged);
    }

    [Fact]
    public void Without_the_split_or_smoothing_nothing_is_measured()
    {
        var options = StaticDefaults with { OutlierSplit = null };
        Assert.NotNull(ChannelRangeMeasurement.NotNeeded(miniLm.Model, options, null));
        Assert.Same(options, ChannelRangeMeasurement.Apply(miniLm.Model, options, null, Unreadable()));
    }

    [Fact]
    public void One_pass_hands_the_same_ranges_to_the_split_and_to_smoothing()
    {
        var options = StaticDefaults;
        var smoothing = new SmoothingOptions { Alpha = 0.4, InsertMul = false };
        Assert.Null(ChannelRangeMeasurement.NotNeeded(miniLm.Model, options, smoothing));

        var measured = ChannelRangeMeasurement.Apply(miniLm.Model, options, smoothing, miniLm.Calibration());

        var ranges = measured.OutlierSplit!.ChannelRanges;
        Assert.Same(ranges, measured.Smoothing!.ChannelRanges);
        Assert.Equal(0.4, measured.Smoothing.Alpha);
        Assert.False(measured.Smoothing.InsertMul);
        Assert.Equal(miniLm.Ranges.Keys.Order(), ranges.Keys.Order());
        foreach (var (tensor, range) in ranges)
            for (int c = 0; c < range.Channels; c++)
                Assert.Equal(miniLm.Ranges[tensor].AbsMax(c), range.AbsMax(c));
    }

    // Samples that fail the test if anything enumerates them.
    private static IEnumerable<object> Unreadable()
    {
        Assert.Fail("the samples were read although no pass was needed");
        yield break;
    }
}
