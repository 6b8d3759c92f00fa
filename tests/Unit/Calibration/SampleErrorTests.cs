using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Onnx;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Calibration;

public class SampleErrorTests
{
    private static OnnxModel Model() => OnnxModel.Load(TestData.Require(TestData.FashionCnn));

    [Fact]
    public void Wrong_shape_names_input_expected_and_actual()
    {
        var bad = new NamedTensor("input", new float[2 * 3 * 28 * 28], new long[] { 2, 3, 28, 28 }, "my-sample");
        var e = Assert.Throws<SampleMismatchException>(() => Calibrator.Run(Model(), new object[] { bad }, new CalibrationOptions()));
        Assert.Equal("input", e.InputName);
        Assert.Equal("[?,1,28,28]", e.Expected);
        Assert.Equal("[2,3,28,28]", e.Actual);
        Assert.Contains("my-sample", e.Message);
        Assert.Contains("'input'", e.Message);
    }

    [Fact]
    public void Wrong_element_type_is_a_mismatch()
    {
        var bad = new NamedTensor("input", new long[784], new long[] { 1, 1, 28, 28 }, "ints");
        var e = Assert.Throws<SampleMismatchException>(() => Calibrator.Run(Model(), new object[] { bad }, new CalibrationOptions()));
        Assert.Equal(SampleMismatchKind.ElementType, e.Kind);
        Assert.Contains("float32", e.Message);
        Assert.Contains("int64", e.Message);
    }

    [Fact]
    public void The_callback_sees_each_bad_sample_and_calibration_goes_on()
    {
        var errors = new List<SampleError>();
        var items = new object[]
        {
            new float[784],
            new float[5],
            Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.npy"),
            new double[784], // converted to float32
        };
        var table = Calibrator.Run(Model(), items, new CalibrationOptions
        {
            OnSampleError = e => { errors.Add(e); return SampleErrorAction.Continue; },
        });
        Assert.Equal(2, table.SampleCount);
        Assert.Equal(2, table.ErrorCount);
        Assert.IsType<SampleMismatchException>(errors[0].Exception);
        Assert.IsType<SampleFormatException>(errors[1].Exception);
    }

    [Fact]
    public void The_callback_can_stop()
    {
        int seen = 0;
        var items = new object[] { new float[784], new float[5], new float[784] };
        var table = Calibrator.Run(Model(), items, new CalibrationOptions
        {
            BatchSize = 1,
            OnSampleError = _ => { seen++; return SampleErrorAction.Stop; },
        });
        Assert.Equal(1, seen);
        Assert.Equal(1, table.SampleCount);
    }

    [Fact]
    public void Cancellation_stops_the_run()
    {
        using var cts = new CancellationTokenSource();
        var progress = new SyncProgress(p => { if (p.BatchesDone == 2) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => Calibrator.Run(Model(), new object[] { TestData.Require(TestData.FashionCalib) },
            new CalibrationOptions { BatchSize = 10 }, progress, cts.Token));
        Assert.Equal(2, progress.Reports.Count);
    }

    [Fact]
    public void Progress_reports_samples_and_total()
    {
        var progress = new SyncProgress(_ => { });
        Calibrator.Run(Model(), new List<object> { TestData.Require(TestData.FashionCalib) }, new CalibrationOptions { BatchSize = 64 }, progress);
        Assert.Equal(new long[] { 64, 128, 192, 200 }, progress.Reports.Select(r => r.SamplesDone));
        Assert.All(progress.Reports, r => Assert.Equal(200, r.TotalSamples));
        Assert.Equal(100, progress.Reports[^1].PercentComplete);
    }

    /// <summary>IProgress that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SyncProgress(Action<CalibrationProgress> onReport) : IProgress<CalibrationProgress>
    {
        public List<CalibrationProgress> Reports { get; } = new();
        public void Report(CalibrationProgress value)
        {
            Reports.Add(value);
            onReport(value);
        }
    }
}
