using EvoQuant.Quantization.WeightOnly;
using Xunit;

namespace EvoQuant.Tests.Quantization.WeightOnly;

/// <summary>Round-to-nearest with ADMM block scales: no block's error grows, the weight's error falls, and
/// the other methods refuse the option.</summary>
public class AdmmBlockScaleTests
{
    [Theory]
    [InlineData(4, true)]
    [InlineData(4, false)]
    [InlineData(8, true)]
    public void AdmmBlockScales_NeverRaiseABlocksError_AndLowerTheTotal(int bits, bool symmetric)
    {
        const int rows = 256, columns = 48;
        var rng = new Random(bits * 10 + (symmetric ? 1 : 0));
        var w = new float[rows * columns];
        // Heavy-tailed values (a Gaussian times an occasional outlier), as trained weights are.
        for (int i = 0; i < w.Length; i++)
            w[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()) * (rng.Next(50) == 0 ? 4 : 1));
        var plain = RoundToNearestMethod.Instance.Quantize(w, rows, columns, new BlockQuantizationSpec(bits, 32, symmetric), null);
        var admm = RoundToNearestMethod.Instance.Quantize(w, rows, columns, new BlockQuantizationSpec(bits, 32, symmetric, AdmmScales: true), null);
        double total = 0, totalAdmm = 0;
        for (int n = 0; n < columns; n++)
            for (int b = 0; b < rows / 32; b++)
            {
                double e = BlockError(plain, w, n, b), ea = BlockError(admm, w, n, b);
                Assert.True(ea <= e * (1 + 1e-9) + 1e-12, $"column {n} block {b}: {ea} > {e}");
                total += e; totalAdmm += ea;
            }
        Assert.True(totalAdmm < total * 0.99, $"ADMM {totalAdmm} vs max-abs {total}");
    }

    [Fact]
    public void GptqAndTheLogarithmicFormRefuseAdmmScales()
    {
        foreach (var w in new[]
        {
            new WeightOnlyOptions { Scale = EvoQuant.Quantization.WeightScaleMethod.Admm, Method = GptqMethod.Default },
            new WeightOnlyOptions { Scale = EvoQuant.Quantization.WeightScaleMethod.Admm, Form = WeightOnlyForm.Logarithmic },
        })
        {
            var e = Assert.Throws<EvoQuant.Quantization.QuantizationOptionsException>(() =>
                EvoQuant.Quantization.ModelQuantizer.Quantize(EvoQuant.Tests.Evaluation.FashionWorkload.Model, EvoQuant.Quantization.QuantizationOptions.ForWeightOnly(w)));
            Assert.Equal("WeightOnly.Scale", e.Option);
        }
    }

    private static double BlockError(BlockQuantizedMatrix m, float[] w, int n, int b)
    {
        double sum = 0;
        for (int k = b * 32; k < (b + 1) * 32; k++)
        {
            long index = (long)n * m.BlocksPerColumn + b;
            double v = BlockScales.Value(m.Code(k, n), m.Scales[index], m.ZeroPoints[index]);
            sum += (w[k * m.Columns + n] - v) * (w[k * m.Columns + n] - v);
        }
        return sum;
    }
}
