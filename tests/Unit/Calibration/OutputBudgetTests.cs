using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>A memory budget smaller than one row's activations (or one batch's, when batches cannot be cut
/// into rows, or for MinMax's per-batch statistics) splits the fetched tensors into groups (one ONNX Runtime
/// run each); the statistics must be exactly those of one run fetching everything.</summary>
public class OutputBudgetTests
{
    // Fashion-cnn's fetched activations are ~660 kB per image: 100 kB holds not even one row.
    private const long UnderOneRow = 100_000;

    [Theory]
    [InlineData(CalibrationMethod.Entropy)]
    [InlineData(CalibrationMethod.Percentile)]
    public void Tiny_budget_gives_identical_tables(CalibrationMethod method)
    {
        var model = OnnxModel.Load(TestData.Require(TestData.FashionCnn));
        var items = new object[] { TestData.Require(TestData.FashionCalib) };
        var whole = Calibrator.Run(model, items, new CalibrationOptions { Method = method, BatchSize = 64, MaxBatchOutputBytes = long.MaxValue });
        var split = Calibrator.Run(model, items, new CalibrationOptions { Method = method, BatchSize = 64, MaxBatchOutputBytes = UnderOneRow });
        Tables.AssertSame(whole.Ranges, split.Ranges);
    }

    [Fact]
    public void A_row_over_the_budget_runs_each_row_once_per_group()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.FashionCnn));
        var selection = new CalibrationTensorSelector().Select(model);
        var settings = new CalibrationSettings { Method = CalibrationMethod.Percentile };
        using var whole = new CalibrationSession(model, selection);
        using var cut = new CalibrationSession(model, selection, maxOutputBytes: UnderOneRow);
        var (a, b) = (Calibrator.Create(settings), Calibrator.Create(settings));
        var inputs = SubBatchTests.Batch(16);
        whole.Run(inputs, a);
        cut.Run(inputs, b);
        Assert.Equal(1, cut.RowsPerRun);
        Assert.True(cut.GroupCount > 1, $"{cut.GroupCount} groups");
        Assert.Equal(16 * cut.GroupCount, cut.LastBatchRuns);
        Tables.AssertSame(a.ComputeRanges(), b.ComputeRanges());
    }

    [Fact]
    public void A_static_batch_axis_falls_back_to_groups_of_tensors()
    {
        var dynamic = OnnxModel.Load(TestData.Require(TestData.FashionCnn));
        var proto = dynamic.CloneProto();
        var dims = proto.Graph.Input.Single(i => i.Name == "input").Type.TensorType.Shape.Dim;
        Assert.False(dims[0].HasDimValue); // the test needs the shipped model's batch axis to be symbolic
        dims[0] = new TensorShapeProto.Types.Dimension { DimValue = 64 };
        var model = dynamic.With(proto);
        Assert.False(new InputBinder(model).CanBatch);

        var selection = new CalibrationTensorSelector().Select(model);
        var settings = new CalibrationSettings { Method = CalibrationMethod.Entropy };
        using var whole = new CalibrationSession(model, selection);
        using var grouped = new CalibrationSession(model, selection, maxOutputBytes: SubBatchTests.FewRows);
        var (a, b) = (Calibrator.Create(settings), Calibrator.Create(settings));
        var inputs = SubBatchTests.Batch(64);
        whole.Run(inputs, a);
        grouped.Run(inputs, b);
        Assert.Equal(long.MaxValue, grouped.RowsPerRun);
        Assert.True(grouped.GroupCount > 1, $"{grouped.GroupCount} groups");
        Assert.Equal(grouped.GroupCount, grouped.LastBatchRuns);
        Tables.AssertSame(a.ComputeRanges(), b.ComputeRanges());
    }

    [Fact]
    public void Fetched_min_max_with_moving_average_keeps_whole_batches()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.FashionCnn));
        var selection = new CalibrationTensorSelector().Select(model);
        var settings = new CalibrationSettings { Method = CalibrationMethod.MinMax, MovingAverage = true };
        using var whole = new CalibrationSession(model, selection, reduceInGraph: false);
        using var grouped = new CalibrationSession(model, selection, reduceInGraph: false, maxOutputBytes: SubBatchTests.FewRows);
        var (a, b) = (Calibrator.Create(settings), Calibrator.Create(settings));
        foreach (var chunk in NpyReader.ReadRows(TestData.Require(TestData.FashionCalib), 64))
        {
            var inputs = new Dictionary<string, NamedTensor> { ["input"] = chunk.WithName("input") };
            whole.Run(inputs, a);
            grouped.Run(inputs, b);
        }
        Assert.Equal(long.MaxValue, grouped.RowsPerRun);
        Assert.True(grouped.GroupCount > 1, $"{grouped.GroupCount} groups");
        Assert.Equal(grouped.GroupCount, grouped.LastBatchRuns);
        var (ra, rb) = (a.ComputeRanges(), b.ComputeRanges());
        Tables.AssertSame(ra, rb);
        Assert.Equal(ra.Select(r => (r.BatchMinSum, r.BatchMaxSum)), rb.Select(r => (r.BatchMinSum, r.BatchMaxSum)));
    }
}
