using EvoQuant.Calibration;
using EvoQuant.Quantization;
using EvoQuant.Quantization.Smoothing;
using EvoQuant.Targets;
using EvoQuant.Tests.Evaluation;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Transformers;

/// <summary>One pass of channel ranges for the outlier split and smoothing, none where nothing can use it, and the
/// same ranges kept by Measure-Calibration's run in its table (saved, merged, handed to the split).</summary>
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

    [Fact]
    public void A_calibration_run_keeps_exactly_the_channel_ranges_of_a_separate_pass_and_the_table_hands_them_to_the_split()
    {
        var table = Calibrator.Run(miniLm.Model, miniLm.Calibration(), new CalibrationOptions());

        AssertSameRanges(miniLm.Ranges, table.ChannelRanges);
        var options = StaticDefaults.WithCalibration(table);
        Assert.Same(table.ChannelRanges, options.OutlierSplit!.ChannelRanges);
        // Options without the split are left as they are.
        Assert.Null(new QuantizationOptions().WithCalibration(table).OutlierSplit);
    }

    [Fact]
    public void Nothing_is_kept_when_asked_not_to_or_without_matmuls()
    {
        Assert.Empty(Calibrator.Run(miniLm.Model, miniLm.Calibration(), new CalibrationOptions { MeasureChannelRanges = false }).ChannelRanges);
        var (items, _) = FashionWorkload.TestSubset(16);
        Assert.Empty(Calibrator.Run(FashionWorkload.Model, items, new CalibrationOptions()).ChannelRanges);
    }

    [Fact]
    public void Channel_ranges_survive_the_json_file_and_merge_shards_into_the_ranges_of_all_samples()
    {
        var items = miniLm.Calibration();
        int half = items.Count / 2;
        var first = Calibrator.Run(miniLm.Model, items.Take(half), new CalibrationOptions());
        var second = Calibrator.Run(miniLm.Model, items.Skip(half), new CalibrationOptions());

        var restored = CalibrationTable.FromJson(first.ToJson());
        AssertSameRanges(first.ChannelRanges, restored.ChannelRanges);

        var merged = CalibrationTable.Merge(restored, CalibrationTable.FromJson(second.ToJson()));
        AssertSameRanges(miniLm.Ranges, merged.ChannelRanges);

        // A shard measured without them leaves no range that would understate the whole stream.
        var without = Calibrator.Run(miniLm.Model, items.Skip(half), new CalibrationOptions { MeasureChannelRanges = false });
        Assert.Empty(CalibrationTable.Merge(first, without).ChannelRanges);
    }

    [Theory]
    [InlineData("\"min\": [1, 2], \"max\": [3]")]
    [InlineData("\"min\": [4], \"max\": [3]")]
    [InlineData("\"min\": [\"NaN\"], \"max\": [3]")]
    public void A_damaged_channel_range_in_a_table_file_is_refused(string extremes)
    {
        string json = new CalibrationTable(new CalibrationSettings(), Array.Empty<TensorRange>()).ToJson().TrimEnd().TrimEnd('}')
            + ", \"channelRanges\": [{\"tensor\": \"x\", \"rows\": 4, " + extremes + "}]}";
        var e = Assert.Throws<FormatException>(() => CalibrationTable.FromJson(json, "t.json"));
        Assert.Contains("channel range", e.Message);
    }

    private static void AssertSameRanges(IReadOnlyDictionary<string, ChannelRange> expected, IReadOnlyDictionary<string, ChannelRange> actual)
    {
        Assert.NotEmpty(expected);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (tensor, range) in expected)
        {
            Assert.Equal(range.Rows, actual[tensor].Rows);
            Assert.Equal(range.Min, actual[tensor].Min);
            Assert.Equal(range.Max, actual[tensor].Max);
        }
    }

    // Samples that fail the test if anything enumerates them.
    private static IEnumerable<object> Unreadable()
    {
        Assert.Fail("the samples were read although no pass was needed");
        yield break;
    }
}
