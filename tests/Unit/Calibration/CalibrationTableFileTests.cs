using EvoQuant.Calibration;
using Xunit;

namespace EvoQuant.Tests.Calibration;

public class CalibrationTableFileTests
{
    private static CalibrationTable Table(CalibrationMethod method, int seed)
    {
        var c = Calibrator.Create(new CalibrationSettings { Method = method, Bins = method == CalibrationMethod.MinMax ? 0 : 256 });
        foreach (var b in Synthetic.Batches(Synthetic.Gaussian(20_000, 2, seed), 4000)) c.Update("conv1/out", b);
        c.Update("relu", Synthetic.Uniform(5000, 0, 6, seed + 1));
        return new CalibrationTable(c.Settings, c.ComputeRanges(), new[] { new SkippedTensor("w", "initializer") }) { SampleCount = 20, ModelName = "m.onnx" };
    }

    [Theory]
    [InlineData(CalibrationMethod.MinMax)]
    [InlineData(CalibrationMethod.Entropy)]
    [InlineData(CalibrationMethod.Percentile)]
    public void Json_round_trip_keeps_every_field(CalibrationMethod method)
    {
        var t = Table(method, 1);
        var back = CalibrationTable.FromJson(t.ToJson());
        Assert.Equal(t.Settings, back.Settings);
        Assert.Equal((t.SampleCount, t.ModelName), (back.SampleCount, back.ModelName));
        Assert.Equal(t.Skipped, back.Skipped);
        for (int i = 0; i < t.Count; i++)
        {
            Assert.Equal(t.Ranges[i] with { Histogram = null }, back.Ranges[i] with { Histogram = null });
            Assert.Equal(t.Ranges[i].Histogram?.Counts, back.Ranges[i].Histogram?.Counts);
        }
    }

    [Fact]
    public void Json_carries_format_and_version_and_rejects_others()
    {
        string json = Table(CalibrationMethod.MinMax, 2).ToJson();
        Assert.Contains("\"format\": \"evoquant-calibration\"", json);
        Assert.Contains("\"version\": 1", json);
        Assert.Throws<FormatException>(() => CalibrationTable.FromJson(json.Replace("\"version\": 1", "\"version\": 99")));
        Assert.Throws<FormatException>(() => CalibrationTable.FromJson("{\"format\": \"other\"}"));
        Assert.Throws<FormatException>(() => CalibrationTable.FromJson("not json"));
    }

    [Fact]
    public void Loaded_tables_still_merge_exactly()
    {
        var a = CalibrationTable.FromJson(Table(CalibrationMethod.Entropy, 3).ToJson());
        var b = CalibrationTable.FromJson(Table(CalibrationMethod.Entropy, 4).ToJson());
        var m = CalibrationTable.Merge(a, b);
        Assert.Equal(40, m.SampleCount);
        Assert.Equal(a["relu"]!.Histogram!.Total + b["relu"]!.Histogram!.Total, m["relu"]!.Histogram!.Total);
        Assert.Equal(Math.Max(a["conv1/out"]!.Max, b["conv1/out"]!.Max), m["conv1/out"]!.Max);
        Assert.Throws<ArgumentException>(() => CalibrationTable.Merge(a, Table(CalibrationMethod.MinMax, 5)));
    }

    [Fact]
    public void TensorRt_cache_writes_hex_float_scales_and_reads_them_back()
    {
        var r = new TensorRange("input.1", CalibrationMethod.Entropy, -1, 2.54f, -1, 2.54f);
        var t = new CalibrationTable(new CalibrationSettings { Method = CalibrationMethod.Entropy }, new[] { r });
        string cache = t.ToTensorRtCache();
        var lines = cache.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("TRT-8501-EntropyCalibration2", lines[0]);
        // scale = 2.54 / 127 = 0.02 -> float bits 0x3ca3d70a
        Assert.Equal($"input.1: {BitConverter.SingleToUInt32Bits(2.54f / 127f):x8}", lines[1]);
        Assert.Equal("input.1: 3ca3d70a", lines[1]);
        var back = CalibrationTable.FromTensorRtCache(cache);
        Assert.Equal(2.54f, back["input.1"]!.RangeMax, 5);
        Assert.Equal(-2.54f, back["input.1"]!.RangeMin, 5);
        Assert.Throws<FormatException>(() => CalibrationTable.FromTensorRtCache("hello\nx: 1"));
    }

    [Fact]
    public void Calibration_cache_text_has_one_name_and_max_abs_line_per_tensor_and_reads_back()
    {
        var t = new CalibrationTable(new CalibrationSettings { Method = CalibrationMethod.Entropy }, new[]
        {
            new TensorRange("input.1", CalibrationMethod.Entropy, -1, 2.54f, -1, 2.54f),
            new TensorRange("conv out/0", CalibrationMethod.Entropy, -7.25f, 3, -7.25f, 3), // a name with a space
        });
        string cache = t.ToCalibrationCache();
        Assert.Equal("conv out/0 7.25\ninput.1 2.54\n", cache); // the table's order: by name
        var back = CalibrationTable.FromCalibrationCache(cache);
        Assert.Equal(new[] { "conv out/0", "input.1" }, back.Ranges.Select(r => r.Tensor));
        Assert.Equal((-2.54f, 2.54f), (back["input.1"]!.RangeMin, back["input.1"]!.RangeMax));
        Assert.Equal((-7.25f, 7.25f), (back["conv out/0"]!.RangeMin, back["conv out/0"]!.RangeMax));
        // As ONNX Runtime's tool writes it (Python str of a float, CRLF tolerated).
        var ort = CalibrationTable.Parse("input 2.7645000219345093\r\nrelu_out 6.0\r\nx 1e-05\r\n");
        Assert.Equal(2.7645f, ort["input"]!.RangeMax, 6);
        Assert.Equal(6f, ort["relu_out"]!.RangeMax);
        Assert.Equal(1e-5f, ort["x"]!.RangeMax);
        foreach (string bad in new[] { "", "name", "name abc", "name -1", "name nan", "name 1e999" })
            Assert.Throws<FormatException>(() => CalibrationTable.FromCalibrationCache(bad));
    }

    [Theory]
    [InlineData("t.json", CalibrationTableFormat.Json)]
    [InlineData("calibration.cache", CalibrationTableFormat.Cache)]
    [InlineData("t.json", CalibrationTableFormat.Cache)]
    [InlineData("t.trt", CalibrationTableFormat.TensorRT)]
    public void Each_format_saves_and_loads_back_by_content(string name, CalibrationTableFormat format)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"evoquant-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var t = Table(CalibrationMethod.Percentile, 6);
            string path = Path.Combine(dir, name);
            t.Save(path, format);
            string text = File.ReadAllText(path);
            Assert.Equal(format == CalibrationTableFormat.Json, text.TrimStart().StartsWith('{'));
            Assert.Equal(format == CalibrationTableFormat.TensorRT, text.StartsWith("TRT-"));
            var back = CalibrationTable.Load(path);
            Assert.Equal(t.Ranges.Select(r => r.Tensor), back.Ranges.Select(r => r.Tensor));
            foreach (var r in t.Ranges)
                Assert.Equal(r.AbsMax, back[r.Tensor]!.AbsMax, format == CalibrationTableFormat.TensorRT ? 5 : 7);
            Assert.Single(Directory.GetFiles(dir)); // no temporary file left behind
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Hard_cuts_are_the_ranges_under_an_eighth_of_what_was_seen_largest_cut_first()
    {
        var t = new CalibrationTable(new CalibrationSettings { Method = CalibrationMethod.Entropy }, new[]
        {
            new TensorRange("kept", CalibrationMethod.Entropy, -2, 6, -2, 5),
            new TensorRange("relu", CalibrationMethod.Entropy, 0, 92, 0, 7.9f),    // 11.6x
            new TensorRange("sigmoid", CalibrationMethod.Entropy, 0, 1, 0, 0.064f), // 15.6x
            new TensorRange("edge", CalibrationMethod.Entropy, -8, 8, -1, 1),       // exactly 8x: kept
            new TensorRange("zeros", CalibrationMethod.Entropy, 0, 0, 0, 0),
        });
        Assert.Equal(new[] { "sigmoid", "relu" }, t.HardCuts().Select(r => r.Tensor));
        Assert.Equal(new[] { "sigmoid", "relu", "edge", "kept" }, t.HardCuts(1.1).Select(r => r.Tensor));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.HardCuts(1));
    }

    [Fact]
    public void Save_and_load_through_a_file()
    {
        string path = Path.Combine(Path.GetTempPath(), $"evoquant-{Guid.NewGuid():N}.json");
        try
        {
            var t = Table(CalibrationMethod.Percentile, 6);
            t.Save(path);
            Assert.Equal(t.Ranges.Select(r => r.RangeMax), CalibrationTable.Load(path).Ranges.Select(r => r.RangeMax));
        }
        finally { File.Delete(path); }
    }
}
