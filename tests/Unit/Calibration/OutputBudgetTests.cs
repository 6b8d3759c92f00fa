using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Onnx;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>A memory budget smaller than one batch's activations splits the fetched tensors into groups
/// (one ONNX Runtime run each); the statistics must be exactly those of one run fetching everything.</summary>
public class OutputBudgetTests
{
    [Theory]
    [InlineData(CalibrationMethod.Entropy)]
    [InlineData(CalibrationMethod.Percentile)]
    public void Tiny_budget_gives_identical_tables(CalibrationMethod method)
    {
        var model = OnnxModel.Load(TestData.Require(TestData.FashionCnn));
        var items = new object[] { TestData.Require(TestData.FashionCalib) };
        var whole = Calibrator.Run(model, items, new CalibrationOptions { Method = method, BatchSize = 64, MaxBatchOutputBytes = long.MaxValue });
        var split = Calibrator.Run(model, items, new CalibrationOptions { Method = method, BatchSize = 64, MaxBatchOutputBytes = 100_000 });
        Assert.Equal(whole.Ranges.Select(r => r.Tensor), split.Ranges.Select(r => r.Tensor));
        for (int i = 0; i < whole.Ranges.Count; i++)
        {
            var (a, b) = (whole.Ranges[i], split.Ranges[i]);
            Assert.Equal((a.Min, a.Max, a.RangeMin, a.RangeMax, a.ElementCount, a.BatchCount), (b.Min, b.Max, b.RangeMin, b.RangeMax, b.ElementCount, b.BatchCount));
            Assert.Equal(a.Histogram!.Counts, b.Histogram!.Counts);
            Assert.Equal((a.Histogram.WidthExponent, a.Histogram.FirstBin), (b.Histogram.WidthExponent, b.Histogram.FirstBin));
        }
    }

    [Fact]
    public void Tiny_budget_runs_each_batch_once_per_group()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.FashionCnn));
        var selection = new CalibrationTensorSelector().Select(model);
        var settings = new CalibrationSettings { Method = CalibrationMethod.Entropy };
        using var whole = new CalibrationSession(model, selection);
        using var split = new CalibrationSession(model, selection, maxOutputBytes: 100_000);
        var chunk = NpyReader.ReadRows(TestData.Require(TestData.FashionCalib), 64).First();
        var inputs = new Dictionary<string, NamedTensor> { ["input"] = chunk.WithName("input") };
        whole.Run(inputs, Calibrator.Create(settings));
        split.Run(inputs, Calibrator.Create(settings));
        Assert.Equal(1, whole.GroupCount);
        // Fashion-cnn's activations of 64 images are ~10 MB: a 100 kB budget leaves most tensors alone.
        Assert.True(split.GroupCount > 10, $"{split.GroupCount} groups");
    }
}
