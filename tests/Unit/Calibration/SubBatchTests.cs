using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Onnx;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>A budget smaller than one batch's activations but larger than one row's cuts the batch into
/// sub-batches of rows, each run once with every tensor: the histograms (and so the tables, BatchCount
/// included: it counts the caller's batches) are exactly those of the whole batch. Groups of tensors
/// (the fallback) are tested in <see cref="OutputBudgetTests"/>.</summary>
public class SubBatchTests
{
    // Fashion-cnn's fetched activations are ~660 kB per image: 4 MB holds a few rows.
    internal const long FewRows = 4_000_000;

    internal static IReadOnlyDictionary<string, NamedTensor> Batch(int rows) =>
        new Dictionary<string, NamedTensor> { ["input"] = NpyReader.ReadRows(TestData.Require(TestData.FashionCalib), rows).First().WithName("input") };

    [Theory]
    [InlineData(CalibrationMethod.Entropy)]
    [InlineData(CalibrationMethod.Percentile)]
    public void Sub_batches_give_the_tables_of_whole_batches(CalibrationMethod method)
    {
        var model = OnnxModel.Load(TestData.Require(TestData.FashionCnn));
        var items = new object[] { TestData.Require(TestData.FashionCalib) };
        var o = new CalibrationOptions { Method = method, Bins = 2048, BatchSize = 64 };
        var whole = Calibrator.Run(model, items, o with { MaxBatchOutputBytes = long.MaxValue });
        var cut = Calibrator.Run(model, items, o with { MaxBatchOutputBytes = FewRows });
        Assert.Equal(200, cut.SampleCount);
        Assert.All(cut.Ranges, r => Assert.Equal(4, r.BatchCount)); // 64, 64, 64, 8 rows: the caller's batches, not the runs
        Tables.AssertSame(whole.Ranges, cut.Ranges);
    }

    [Fact]
    public void A_batch_over_the_budget_runs_once_per_sub_batch_with_one_group()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.FashionCnn));
        var selection = new CalibrationTensorSelector().Select(model);
        var settings = new CalibrationSettings { Method = CalibrationMethod.Entropy };
        using var whole = new CalibrationSession(model, selection);
        using var cut = new CalibrationSession(model, selection, maxOutputBytes: FewRows);
        var (a, b) = (Calibrator.Create(settings), Calibrator.Create(settings));
        var inputs = Batch(64);
        whole.Run(inputs, a);
        cut.Run(inputs, b);
        Assert.Equal((1, 1, long.MaxValue), (whole.LastBatchRuns, whole.GroupCount, whole.RowsPerRun));
        Assert.Equal(1, cut.GroupCount);
        Assert.InRange(cut.RowsPerRun, 2, 32);
        Assert.Equal((64 + cut.RowsPerRun - 1) / cut.RowsPerRun, cut.LastBatchRuns);
        Tables.AssertSame(a.ComputeRanges(), b.ComputeRanges());
    }

    [Fact]
    [Trait("Category", "TestData")]
    public void Ocr_classifier_tables_are_identical_when_cut()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.OcrCls));
        var selection = new CalibrationTensorSelector().Select(model);
        var settings = new CalibrationSettings { Method = CalibrationMethod.Entropy, Bins = 2048 };
        using var whole = new CalibrationSession(model, selection);
        using var cut = new CalibrationSession(model, selection, maxOutputBytes: 32 << 20);
        var (a, b) = (Calibrator.Create(settings), Calibrator.Create(settings));
        var r = new Random(5);
        for (int batch = 0; batch < 2; batch++)
        {
            var x = new float[5 * 3 * 48 * 192];
            for (int i = 0; i < x.Length; i++) x[i] = (float)(Math.Sin(i * 0.013 + r.NextDouble()) * 0.9);
            string name = model.Inputs[0].Name;
            var inputs = new Dictionary<string, NamedTensor> { [name] = new NamedTensor(name, x, new long[] { 5, 3, 48, 192 }) };
            whole.Run(inputs, a);
            cut.Run(inputs, b);
            // The classifier's activations are ~15 MB per image: two rows per run, three runs for five.
            Assert.Equal((2, 3, 1), (cut.RowsPerRun, cut.LastBatchRuns, cut.GroupCount));
        }
        Tables.AssertSame(a.ComputeRanges(), b.ComputeRanges());
    }

    [Fact]
    [Trait("Category", "TestData")]
    public void Wider_inputs_later_plan_smaller_sub_batches()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.OcrRec));
        var selection = new CalibrationTensorSelector().Select(model);
        var settings = new CalibrationSettings { Method = CalibrationMethod.Percentile };
        using var whole = new CalibrationSession(model, selection);
        using var cut = new CalibrationSession(model, selection, maxOutputBytes: 128 << 20);
        var (a, b) = (Calibrator.Create(settings), Calibrator.Create(settings));
        string name = model.Inputs[0].Name;
        var plans = new List<(long RowsPerRun, int Runs, int Groups)>();
        foreach (int width in new[] { 32, 96, 96 })
        {
            var x = new float[4 * 3 * 48 * width];
            for (int i = 0; i < x.Length; i++) x[i] = (float)Math.Sin(i * 0.37 + i / 9000 * 0.7);
            var inputs = new Dictionary<string, NamedTensor> { [name] = new NamedTensor(name, x, new long[] { 4, 3, 48, width }) };
            whole.Run(inputs, a);
            cut.Run(inputs, b);
            plans.Add((cut.RowsPerRun, cut.LastBatchRuns, cut.GroupCount));
        }
        // Width 32 fits 4 rows in one run. The first wide batch still ran on that plan (sizes are learned
        // from it), which it now overflows: the plan is dropped and the next batch cut smaller.
        Assert.True(plans[0].RowsPerRun >= 4 && plans[0].Runs == 1, plans[0].ToString());
        Assert.Equal((long.MaxValue, 1, 0), plans[1]);
        Assert.InRange(plans[2].RowsPerRun, 1, 3);
        Assert.Equal(((4 + plans[2].RowsPerRun - 1) / plans[2].RowsPerRun, 1), (plans[2].Runs, plans[2].Groups));
        Tables.AssertSame(a.ComputeRanges(), b.ComputeRanges());
    }
}
