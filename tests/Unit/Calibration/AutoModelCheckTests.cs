using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Targets;
using EvoQuant.Tests.Quantization.Helpers;
using EvoQuant.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>Method = Auto's output check: after the per-tensor choice, the whole model quantized with it and with each
/// single method's ranges, scored at the outputs on the kept calibration rows; the best is kept.</summary>
public class AutoModelCheckTests
{
    private const int Rows = 64;

    // fashion-cnn as the benchmarks quantize it: static QDQ per channel with the host's defaults.
    private static QuantizationOptions Format => TargetProfile.Resolve(QuantTarget.Host).StaticDefaults() with { PerChannel = true };

    private static readonly Lazy<Dictionary<CalibrationMethod, CalibrationTable>> s_tables = new(() =>
        new[] { CalibrationMethod.MinMax, CalibrationMethod.Entropy, CalibrationMethod.Percentile, CalibrationMethod.Auto }
            .ToDictionary(m => m, m => Calibrator.Run(FashionData.Model, new object[] { TestData.Require(TestData.FashionCalib) },
                new CalibrationOptions { Method = m, BatchSize = 50, SearchRows = Rows, SearchQuantization = Format })));

    // The output SQNR of the model quantized with the table, against the float model, on the rows the check kept
    // (the first Rows of the calibration file), measured here without the check's code.
    private static double OutputSqnr(CalibrationTable table)
    {
        var (x, shape) = TestNpy.ReadFloats(TestData.Require(TestData.FashionCalib));
        int size = x.Length / (int)shape[0];
        var dims = shape.Select(d => (int)d).ToArray();
        dims[0] = Rows;
        var input = new DenseTensor<float>(x.AsMemory(0, Rows * size), dims);
        float[] Run(OnnxModel m)
        {
            using var session = new InferenceSession(m.ToBytes());
            using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("input", input) });
            return results.First().AsTensor<float>().ToArray();
        }
        var q = ModelQuantizer.Quantize(FashionData.Model, Format.WithCalibration(table));
        return ErrorMetrics.Sqnr(Run(FashionData.Model), Run(q.Model));
    }

    [Fact]
    public void Auto_s_output_on_the_calibration_rows_is_never_below_a_single_method_s()
    {
        var tables = s_tables.Value;
        double auto = OutputSqnr(tables[CalibrationMethod.Auto]);
        var check = tables[CalibrationMethod.Auto].Ranges.Select(r => r.ModelChoice).Distinct().Single();
        Assert.NotNull(check);
        Assert.Equal(Rows, check!.Rows);
        // What the check recorded for what it kept is what the kept table gives.
        Assert.Equal(check.Sqnr, auto, 2);
        foreach (var m in AutoModelCheck.Methods)
        {
            double single = OutputSqnr(tables[m]);
            Assert.True(auto >= single - 1e-3, $"Auto {auto:F3} dB below {m} {single:F3} dB: {check}");
            // Each single method's figure in the check is that method's own table's.
            Assert.Equal(single, check.Scores.Single(s => s.Method == m).Sqnr, 2);
        }
    }

    [Fact]
    public void Every_tensor_gets_the_kept_candidate_s_range_and_says_why()
    {
        var auto = s_tables.Value[CalibrationMethod.Auto];
        var check = auto.Ranges[0].ModelChoice!;
        Assert.Equal(1 + AutoModelCheck.Methods.Count, check.Scores.Count);
        Assert.Null(check.Scores[0].Method);
        // The kept candidate has the highest score; a single method replaces the per-tensor choice only when strictly better.
        Assert.Equal(check.Scores.Max(s => s.Sqnr), check.Sqnr);
        if (check.Uniform != null) Assert.True(check.Sqnr > check.Scores[0].Sqnr, check.ToString());
        foreach (var r in auto.Ranges)
        {
            Assert.Same(check, r.ModelChoice);
            var perTensor = AutoCalibrator.Choose(r.Candidates!);
            var kept = check.Uniform is { } m ? r.Candidates!.Single(c => c.Method == m) : perTensor;
            Assert.Equal(kept.Method, r.Method);
            Assert.Equal((kept.RangeMin, kept.RangeMax), (r.RangeMin, r.RangeMax));
            Assert.Contains(check.ToString(), r.Choice);
            Assert.Contains($"MSE {kept.Mse.ToString("G3", System.Globalization.CultureInfo.InvariantCulture)}", r.Choice);
            Assert.StartsWith(check.Uniform is { } u ? $"{u} for every tensor: output SQNR" : $"{r.Method}: MSE", r.Choice);
        }
    }

    [Fact]
    public void The_decision_survives_JSON()
    {
        var auto = s_tables.Value[CalibrationMethod.Auto];
        var back = CalibrationTable.FromJson(auto.ToJson());
        foreach (var r in auto.Ranges)
        {
            Assert.Equal(r.ModelChoice, back[r.Tensor]!.ModelChoice);
            Assert.Equal(r.Choice, back[r.Tensor]!.Choice);
        }
    }

    [Fact]
    public void Other_methods_have_no_output_check()
    {
        foreach (var m in AutoModelCheck.Methods)
            Assert.All(s_tables.Value[m].Ranges, r => Assert.Null(r.ModelChoice));
    }

    [Fact]
    public void The_rows_kept_for_the_check_do_not_grow_with_the_samples()
    {
        var test = NpyReader.Read(TestData.Require(TestData.FashionTestX));
        (long Rows, long Bytes) Kept(int samples)
        {
            using var run = new CalibrationRun(FashionData.Model, new CalibrationOptions { Method = CalibrationMethod.Auto, BatchSize = 50 });
            run.Add(test.SliceRows(0, samples));
            return (run.SearchRowsKept, run.SearchBytesKept);
        }
        var small = Kept(100);
        Assert.Equal(CalibrationSettings.DefaultSearchRows, small.Rows);
        Assert.Equal(small, Kept(1000));
    }

    [Fact]
    public void Identical_candidates_tie_and_the_per_tensor_choice_is_kept()
    {
        // Every tensor's three proposals are its MinMax range: the four candidates are one model.
        var rows = s_tables.Value[CalibrationMethod.MinMax].Ranges.Select(r => r with
        {
            Candidates = AutoModelCheck.Methods.Select(m => new MethodCandidate(m, r.RangeMin, r.RangeMax, 0)).ToList(),
        }).ToList();
        var (x, _) = TestNpy.ReadFloats(TestData.Require(TestData.FashionCalib));
        var batch = new Dictionary<string, NamedTensor> { ["input"] = new NamedTensor("input", x[..(4 * 28 * 28)], new long[] { 4, 1, 28, 28 }) };
        var result = AutoModelCheck.Run(FashionData.Model, rows, new[] { batch }, Format);
        var check = result[0].ModelChoice!;
        Assert.Null(check.Uniform);
        Assert.Equal(4, check.Rows);
        Assert.Single(check.Scores.Select(s => s.Sqnr).Distinct());
        Assert.True(double.IsFinite(check.Sqnr) && check.Sqnr > 10, check.ToString());
        Assert.Equal(rows.Select(r => (r.Method, r.RangeMin, r.RangeMax)), result.Select(r => (r.Method, r.RangeMin, r.RangeMax)));
    }

    [Fact]
    public void Runs_of_the_calibration_batch_size_score_as_the_whole_batch_does()
    {
        // The check runs the kept rows in runs of the calibration's batch size, so its working memory stays the calibration's.
        var rows = s_tables.Value[CalibrationMethod.Auto].Ranges.Select(r => r with { Method = AutoCalibrator.Choose(r.Candidates!).Method, ModelChoice = null }).ToList();
        var (x, _) = TestNpy.ReadFloats(TestData.Require(TestData.FashionCalib));
        var batch = new Dictionary<string, NamedTensor> { ["input"] = new NamedTensor("input", x[..(32 * 28 * 28)], new long[] { 32, 1, 28, 28 }) };
        var whole = AutoModelCheck.Run(FashionData.Model, rows, new[] { batch }, Format)[0].ModelChoice!;
        var split = AutoModelCheck.Run(FashionData.Model, rows, new[] { batch }, Format, batchRows: 5)[0].ModelChoice!;
        Assert.Equal(32, split.Rows);
        Assert.Equal(whole.Uniform, split.Uniform);
        for (int i = 0; i < whole.Scores.Count; i++) Assert.Equal(whole.Scores[i].Sqnr, split.Scores[i].Sqnr, 2);
    }
}
