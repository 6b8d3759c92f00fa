using EvoQuant.Evaluation;
using EvoQuant.Numerics;
using Xunit;

namespace EvoQuant.Tests.Evaluation;

/// <summary>The per-tensor report's LogSqnr: the table-driven log levels give the scalar reference's codes, and
/// on fashion-cnn the input's figure is the log round trip of the images with the input's range.</summary>
public class LogQuantizationCostTests
{
    [Theory]
    [InlineData(4, 1)]
    [InlineData(8, 1)]
    [InlineData(8, 16)]
    [InlineData(8, 32)]
    public void LogLevels_GiveTheScalarCodes(int bits, int steps)
    {
        var rng = new Random(bits * 100 + steps);
        const float scale = 1.7f;
        var levels = new LogLevels(scale, bits, steps);
        var x = new float[50000];
        for (int i = 0; i < x.Length; i++)
            x[i] = (float)((rng.Next(2) * 2 - 1) * scale * Math.Pow(2, -rng.NextDouble() * 12 + 0.2));
        x[0] = 0; x[1] = scale; x[2] = -scale;
        foreach (float v in x) Assert.Equal(LogQuantizer.Encode(v, scale, bits, steps), levels.Encode(v));
        var y = new float[x.Length];
        var reference = new float[x.Length];
        levels.RoundTrip(x, y);
        LogQuantizer.RoundTrip(x, reference, scale, bits, steps);
        Assert.Equal(reference, y);
    }

    [Fact]
    public void PerTensorReport_GivesTheLogCostOfEachQuantizedActivation()
    {
        var (items, _) = FashionWorkload.TestSubset(200);
        var report = AccuracyComparer.Compare(FashionWorkload.Model, FashionWorkload.Int8.Model, items,
            new ComparisonOptions { PerTensor = true, CheckKernels = false, BatchSize = 200 });
        var ranged = report.Tensors.Where(t => t.QuantRangeMin != null).ToList();
        Assert.NotEmpty(ranged);
        Assert.All(ranged, t => Assert.True(t.LogSqnr is double d && double.IsFinite(d) && d > 0, $"{t.Tensor}: {t.LogSqnr}"));
        Assert.All(report.Tensors.Where(t => t.QuantRangeMin == null), t => Assert.Null(t.LogSqnr));

        // The graph input's reference values are the images: its figure is their round trip at one of the step choices.
        var input = Assert.Single(ranged, t => t.Tensor == "input");
        float scale = (float)Math.Max(Math.Abs(input.QuantRangeMin!.Value), Math.Abs(input.QuantRangeMax!.Value));
        var images = ((EvoQuant.Data.NamedTensor)items[0]).Data as float[] ?? throw new InvalidOperationException("float images expected");
        var sqnrs = LogQuantizer.StepChoices.Select(f =>
        {
            var y = new float[images.Length];
            LogQuantizer.RoundTrip(images, y, scale, 8, f);
            double s = 0, n = 0;
            for (int i = 0; i < y.Length; i++) { s += (double)images[i] * images[i]; n += ((double)images[i] - y[i]) * ((double)images[i] - y[i]); }
            return 10 * Math.Log10(s / n);
        }).ToList();
        Assert.Contains(sqnrs, s => Math.Abs(s - input.LogSqnr!.Value) < 1e-3);
        Assert.Equal(sqnrs.Max(), input.LogSqnr!.Value, 3);
    }
}
