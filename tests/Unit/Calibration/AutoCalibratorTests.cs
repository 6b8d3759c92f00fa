using EvoQuant.Calibration;
using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>Method = Auto: per tensor, the range of MinMax, Entropy or Percentile that quantizes the tensor's
/// calibration values with the least error.</summary>
public class AutoCalibratorTests
{
    private static readonly CalibrationSettings Auto = new() { Method = CalibrationMethod.Auto };

    private static TensorRange Calibrate(float[] values, int batch = 4096)
    {
        var c = Calibrator.Create(Auto);
        foreach (var b in Synthetic.Batches(values, batch)) c.Update("t", b);
        return Assert.Single(c.ComputeRanges());
    }

    // The error of quantizing every value to uint8 over [lo, hi] and back, computed value by value.
    private static double DirectMse(float[] values, float lo, float hi)
    {
        var p = QuantParamsCalculator.FromRange(lo, hi, QuantType.UInt8, symmetric: false);
        double sum = 0;
        foreach (float x in values)
        {
            double q = Math.Clamp(Math.Round(x / (double)p.Scale, MidpointRounding.ToEven) + p.ZeroPoint, 0, 255);
            double e = x - (q - p.ZeroPoint) * p.Scale;
            sum += e * e;
        }
        return sum / values.Length;
    }

    [Fact]
    public void The_histogram_error_of_a_range_is_the_error_of_quantizing_the_values()
    {
        var x = Synthetic.GaussianWithOutliers(200_000, 6, 40, seed: 3);
        var row = Calibrate(x);
        Assert.Equal(3, row.Candidates!.Count);
        foreach (var c in row.Candidates)
        {
            double direct = DirectMse(x, c.RangeMin, c.RangeMax);
            // Values are taken at their bin's centre: within a few percent of the exact figure.
            Assert.InRange(c.Mse, direct * 0.95, direct * 1.05);
        }
        // A range that clips half the values costs far more than it saves in rounding.
        Assert.True(RangeError.Mse(row.Histogram!, 0, 40) > 10 * RangeError.Mse(row.Histogram!, -40, 40));
    }

    [Fact]
    public void A_rare_far_outlier_makes_Auto_clip_and_the_chosen_range_has_the_least_error()
    {
        // One value at 40 among 2M N(0, 1): keeping it costs every value rounding at a step of 44.5/255
        // (MSE 0.0025); Percentile cuts it to about 4.5 (its clipping costs 36^2 / 2M = 0.0006).
        var x = Synthetic.GaussianWithOutliers(2_000_000, 1, 40, seed: 5);
        var row = Calibrate(x);
        Assert.True(row.Method == CalibrationMethod.Percentile, row.Choice + " " + string.Join("; ", row.Candidates!));
        Assert.True(row.AbsMax < 10, $"the outlier at 40 kept: {row}");
        var chosen = row.Candidates!.Single(c => c.Method == row.Method);
        Assert.Equal((chosen.RangeMin, chosen.RangeMax), (row.RangeMin, row.RangeMax));
        Assert.All(row.Candidates!, c => Assert.True(chosen.Mse <= c.Mse, $"{chosen} chosen over {c}"));
        Assert.Equal(40, row.Max);
        Assert.StartsWith($"{row.Method}: MSE ", row.Choice);
    }

    [Fact]
    public void A_one_sided_tensor_never_gets_the_symmetric_Percentile_range()
    {
        // A ReLU6 output: Percentile's symmetric range spends half the codes on values that never occur.
        var x = Synthetic.Uniform(100_000, 0, 6, seed: 7);
        var row = Calibrate(x);
        Assert.NotEqual(CalibrationMethod.Percentile, row.Method);
        Assert.True(row.RangeMin >= 0, row.ToString());
        var p = row.Candidates!.Single(c => c.Method == CalibrationMethod.Percentile);
        Assert.True(p.RangeMin < 0, $"Percentile's proposal should be symmetric: {p}");
        Assert.True(p.Mse > 2 * row.Candidates!.Min(c => c.Mse), $"{p} vs {string.Join("; ", row.Candidates!)}");
    }

    [Fact]
    public void Ties_go_to_the_earlier_method()
    {
        var list = new[]
        {
            new MethodCandidate(CalibrationMethod.MinMax, -1, 1, 0.5),
            new MethodCandidate(CalibrationMethod.Entropy, -1, 1, 0.5),
            new MethodCandidate(CalibrationMethod.Percentile, -0.5f, 0.5f, 0.7),
        };
        Assert.Equal(CalibrationMethod.MinMax, AutoCalibrator.Choose(list).Method);
        Assert.Equal(CalibrationMethod.Entropy, AutoCalibrator.Choose(list[1..]).Method);
    }

    [Fact]
    public void Bins_cannot_be_set_with_Auto()
    {
        Assert.Throws<ArgumentException>(() => Calibrator.Create(Auto with { Bins = 512 }));
    }

    [Fact]
    public void Memory_does_not_grow_with_the_values_an_Auto_calibrator_sees()
    {
        // The state is histograms of fixed size: ten times the values leave the same number of bins.
        var few = Calibrate(Synthetic.Gaussian(20_000, 1, seed: 9));
        var many = Calibrate(Synthetic.Gaussian(200_000, 1, seed: 9));
        Assert.Equal(200_000, many.ElementCount);
        Assert.True(many.Histogram!.Counts.Length <= 2 * few.Histogram!.Counts.Length,
            $"{few.Histogram.Counts.Length} bins for 20k values, {many.Histogram.Counts.Length} for 200k");
    }
}

/// <summary>Auto on the real Fashion-MNIST CNN.</summary>
public class FashionAutoCalibrationTests
{
    private static OnnxModel Model() => OnnxModel.Load(TestData.Require(TestData.FashionCnn));

    private static CalibrationTable Run(OnnxModel model, CalibrationMethod method) =>
        Calibrator.Run(model, new object[] { TestData.Require(TestData.FashionCalib) }, new CalibrationOptions { Method = method, BatchSize = 50 });

    [Fact]
    public void Each_tensor_gets_exactly_the_range_its_chosen_method_gives_alone()
    {
        var model = Model();
        var auto = Run(model, CalibrationMethod.Auto);
        var alone = new[] { CalibrationMethod.MinMax, CalibrationMethod.Entropy, CalibrationMethod.Percentile }
            .ToDictionary(m => m, m => Run(model, m));
        Assert.Equal(alone[CalibrationMethod.MinMax].Ranges.Select(r => r.Tensor).Order(), auto.Ranges.Select(r => r.Tensor).Order());
        foreach (var r in auto.Ranges)
        {
            Assert.Equal(3, r.Candidates!.Count);
            foreach (var c in r.Candidates)
            {
                var single = alone[c.Method][r.Tensor]!;
                Assert.Equal((single.RangeMin, single.RangeMax), (c.RangeMin, c.RangeMax));
            }
            // The per-tensor choice is the least error at the tensor; the output check keeps it or gives every tensor one method.
            Assert.Equal(r.Candidates.Min(c => c.Mse), AutoCalibrator.Choose(r.Candidates).Mse);
            Assert.Equal(r.ModelChoice!.Uniform ?? AutoCalibrator.Choose(r.Candidates).Method, r.Method);
            Assert.Equal(alone[CalibrationMethod.MinMax][r.Tensor]!.Min, r.Min);
            Assert.Equal(alone[CalibrationMethod.MinMax][r.Tensor]!.Max, r.Max);
        }
        // The ReLU6 outputs are one-sided: Percentile's symmetric range (its 85.85% top-1 on this model) never wins there.
        foreach (var clip in model.Graph.Nodes.Where(n => n.OpType == "Clip"))
        {
            Assert.NotEqual(CalibrationMethod.Percentile, AutoCalibrator.Choose(auto[clip.Output[0]]!.Candidates!).Method);
            Assert.NotEqual(CalibrationMethod.Percentile, auto[clip.Output[0]]!.Method);
        }
        Assert.True(auto.Ranges.Select(r => AutoCalibrator.Choose(r.Candidates!).Method).Distinct().Count() > 1, "one method won everywhere: the choice is not per tensor");
    }

    [Fact]
    public void The_choice_and_its_figures_survive_JSON()
    {
        var auto = Run(Model(), CalibrationMethod.Auto);
        var back = CalibrationTable.FromJson(auto.ToJson());
        Assert.Equal(CalibrationMethod.Auto, back.Settings.Method);
        foreach (var r in auto.Ranges)
        {
            var b = back[r.Tensor]!;
            Assert.Equal(r.Method, b.Method);
            Assert.Equal((r.RangeMin, r.RangeMax), (b.RangeMin, b.RangeMax));
            Assert.Equal(r.Candidates!, b.Candidates!);
            Assert.Equal(r.ModelChoice, b.ModelChoice);
            Assert.Equal(r.Choice, b.Choice);
        }
    }

    [Fact]
    public void An_Auto_table_cannot_be_continued()
    {
        var auto = Run(Model(), CalibrationMethod.Auto);
        var e = Assert.Throws<ArgumentException>(() => CalibrationTable.Merge(auto, auto));
        Assert.Contains("Auto", e.Message);
    }
}
