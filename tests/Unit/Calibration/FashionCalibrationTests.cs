using EvoQuant.Calibration;
using EvoQuant.Onnx;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>End to end on the real Fashion-MNIST CNN with its 200 calibration images.</summary>
public class FashionCalibrationTests
{
    private static OnnxModel Model() => OnnxModel.Load(TestData.Require(TestData.FashionCnn));

    [Theory]
    [InlineData(CalibrationMethod.MinMax)]
    [InlineData(CalibrationMethod.Entropy)]
    [InlineData(CalibrationMethod.Percentile)]
    public void Every_activation_of_the_quantized_ops_is_calibrated_with_a_sane_range(CalibrationMethod method)
    {
        var model = Model();
        var table = Calibrator.Run(model, new object[] { TestData.Require(TestData.FashionCalib) }, new CalibrationOptions { Method = method, BatchSize = 50 });
        Assert.Equal(200, table.SampleCount);

        var g = model.Graph;
        var expected = g.Nodes.Where(n => n.OpType is "Conv" or "Clip" or "Add" or "Gemm" or "GlobalAveragePool" or "Flatten")
            .SelectMany(n => n.Input.Concat(n.Output)).Where(t => t.Length > 0 && !g.IsConstant(t)).ToHashSet();
        Assert.Equal(expected.OrderBy(t => t), table.Ranges.Select(r => r.Tensor).OrderBy(t => t));
        Assert.Contains("input", expected);
        Assert.Contains("logits", expected);

        Assert.DoesNotContain(table.Ranges, r => g.IsConstant(r.Tensor));
        Assert.Contains(table.Skipped, s => g.IsInitializer(s.Tensor));
        Assert.Contains(table.Skipped, s => g.IsConstant(s.Tensor) && !g.IsInitializer(s.Tensor));

        foreach (var r in table.Ranges)
        {
            Assert.True(float.IsFinite(r.RangeMin) && float.IsFinite(r.RangeMax), r.ToString());
            Assert.True(r.RangeMin <= r.RangeMax, r.ToString());
            // A symmetric range (Percentile's default) may pass the smaller side of what was seen, never the larger.
            float seen = MathF.Max(-r.Min, r.Max);
            Assert.True(table.Settings.Symmetric ? -seen <= r.RangeMin && r.RangeMax <= seen : r.Min <= r.RangeMin && r.RangeMax <= r.Max,
                $"chosen range outside what was seen: {r}");
            Assert.True(r.RangeMax > r.RangeMin, $"degenerate range {r}");
        }
        foreach (var clip in g.Nodes.Where(n => n.OpType == "Clip"))
        {
            var r = table[clip.Output[0]]!;
            Assert.True(r.Min >= 0 && r.Max <= 6, $"ReLU6 output outside [0, 6]: {r}");
        }
        // The normalised input: (0 - 0.286) / 0.353 = -0.81 to (1 - 0.286) / 0.353 = 2.02.
        var input = table["input"]!;
        Assert.Equal(-0.8102, input.Min, 3);
        Assert.Equal(2.0227, input.Max, 3);
    }

    [Fact]
    public void Batch_size_does_not_change_min_max_ranges()
    {
        var model = Model();
        var items = new object[] { TestData.Require(TestData.FashionCalib) };
        var a = Calibrator.Run(model, items, new CalibrationOptions { BatchSize = 200 });
        var b = Calibrator.Run(model, items, new CalibrationOptions { BatchSize = 7 });
        foreach (var r in a.Ranges)
        {
            var o = b[r.Tensor]!;
            // ORT's kernels may pick other code paths for other batch sizes: allow float noise.
            Assert.Equal(r.RangeMin, o.RangeMin, 4);
            Assert.Equal(r.RangeMax, o.RangeMax, 4);
        }
    }

    [Fact]
    public void Tables_of_two_shards_merge_into_the_table_of_all_samples()
    {
        var model = Model();
        var x = EvoQuant.Data.NpyReader.Read(TestData.Require(TestData.FashionCalib));
        var opts = new CalibrationOptions { Method = CalibrationMethod.Entropy, Bins = 512, BatchSize = 25 };
        var whole = Calibrator.Run(model, new object[] { x }, opts);
        var a = Calibrator.Run(model, new object[] { x.SliceRows(0, 100) }, opts);
        var b = Calibrator.Run(model, new object[] { x.SliceRows(100, 100) }, opts);
        var merged = CalibrationTable.Merge(a, b);
        Assert.Equal(whole.SampleCount, merged.SampleCount);
        int common = 0;
        foreach (var r in whole.Ranges)
        {
            var m = merged[r.Tensor]!;
            Assert.Equal(r.Histogram!.Total, m.Histogram!.Total);
            Assert.Equal((r.Min, r.Max), (m.Min, m.Max));
            // Each shard's first batch set its grid: the merge takes the coarser, exactly the whole stream's
            // histogram when the second shard's is no wider than the first's.
            Assert.Equal(Math.Max(a[r.Tensor]!.Histogram!.WidthExponent!.Value, b[r.Tensor]!.Histogram!.WidthExponent!.Value), m.Histogram.WidthExponent);
            if (b[r.Tensor]!.Histogram!.WidthExponent > a[r.Tensor]!.Histogram!.WidthExponent) continue;
            common++;
            Tables.AssertSame(new[] { r }, new[] { m });
        }
        Assert.True(common > whole.Count / 2, $"{common} of {whole.Count} tensors on a common grid");
    }

    [Fact]
    public void A_run_that_continues_a_table_gives_the_table_of_all_samples_exactly()
    {
        var model = Model();
        var x = EvoQuant.Data.NpyReader.Read(TestData.Require(TestData.FashionCalib));
        foreach (var method in new[] { CalibrationMethod.Entropy, CalibrationMethod.Percentile, CalibrationMethod.MinMax })
        {
            var opts = new CalibrationOptions { Method = method, Bins = 512, BatchSize = 25 };
            var whole = Calibrator.Run(model, new object[] { x }, opts);
            var a = Calibrator.Run(model, new object[] { x.SliceRows(0, 100) }, opts);
            using var run = new CalibrationRun(model, opts);
            run.ContinueFrom(a);
            run.Add(x.SliceRows(100, 100));
            var continued = run.Complete();
            Assert.Equal(whole.SampleCount, continued.SampleCount);
            Tables.AssertSame(whole.Ranges, continued.Ranges);
            Assert.Throws<InvalidOperationException>(() => run.ContinueFrom(a)); // only before the first sample
        }
    }

    [Fact]
    public void Op_type_and_node_filters_narrow_the_selection()
    {
        var model = Model();
        var sel = new CalibrationTensorSelector(opTypes: new[] { "Gemm" }).Select(model);
        var gemm = model.Graph.Nodes.Single(n => n.OpType == "Gemm");
        Assert.Equal(new[] { gemm.Input[0], gemm.Output[0] }, sel.Tensors);

        var firstConv = model.Graph.Nodes.First(n => n.OpType == "Conv");
        var excluded = new CalibrationTensorSelector(excludeNodes: new[] { firstConv.Name }).Select(model);
        var all = new CalibrationTensorSelector().Select(model);
        Assert.True(excluded.Tensors.Count <= all.Tensors.Count);
        var only = new CalibrationTensorSelector(opTypes: new[] { "c*" }, includeNodes: new[] { firstConv.Name }).Select(model);
        Assert.Equal(new[] { firstConv.Input[0], firstConv.Output[0] }, only.Tensors);
    }

    [Fact]
    public void The_callers_model_is_not_modified()
    {
        var model = Model();
        int outputs = model.Proto.Graph.Output.Count;
        var before = model.Proto.Clone();
        Calibrator.Run(model, new object[] { new float[784] }, new CalibrationOptions());
        Assert.Equal(outputs, model.Proto.Graph.Output.Count);
        Assert.Equal(before, model.Proto);
    }
}
