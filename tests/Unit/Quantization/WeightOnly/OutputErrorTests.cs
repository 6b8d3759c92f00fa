using EvoQuant.Quantization.WeightOnly;
using Xunit;
using static EvoQuant.Tests.Quantization.WeightOnly.WeightOnlySynthetic;

namespace EvoQuant.Tests.Quantization.WeightOnly;

public class OutputErrorTests
{
    [Fact]
    public void TheGramFormEqualsTheErrorOfTheOutputsComputedFromTheInputs()
    {
        const int k = 40, n = 12, rows = 200;
        var x = CorrelatedInputs(rows, k, latent: 5, seed: 21);
        var w = Weights(k, n, seed: 22);
        var q = RoundToNearestMethod.Instance.Quantize(w, k, n, new BlockQuantizationSpec(4, 16, false), null);
        var wq = q.Dequantize();

        double error = 0, signal = 0;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < n; c++)
            {
                double y = 0, yq = 0;
                for (int i = 0; i < k; i++)
                {
                    y += (double)x[r * k + i] * w[i * n + c];
                    yq += (double)x[r * k + i] * wq[i * n + c];
                }
                error += (y - yq) * (y - yq);
                signal += y * y;
            }

        var (e, s) = OutputError.Measure(Statistics(x, k), w, q);
        Assert.Equal(1, e / error, 6);
        Assert.Equal(1, s / signal, 6);
    }
}
