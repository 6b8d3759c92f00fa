using EvoQuant.Evaluation;
using Xunit;

namespace EvoQuant.Tests.Evaluation;

/// <summary>Spearman's rank correlation on series small enough to rank by hand.</summary>
public class SpearmanCorrelationTests
{
    [Fact]
    public void Ranks_AreOneBased_AndTiesShareTheMeanOfTheirRanks()
    {
        Assert.Equal(new[] { 1.0, 4.0, 2.5, 2.5 }, SpearmanCorrelation.Ranks(new[] { 10f, 30f, 20f, 20f }));
        Assert.Equal(new[] { 2.0, 2.0, 2.0 }, SpearmanCorrelation.Ranks(new[] { 5f, 5f, 5f }));
        Assert.Equal(new[] { 3.0, 1.0, 2.0 }, SpearmanCorrelation.Ranks(new[] { 0.5f, -1f, 0f }));
    }

    [Fact]
    public void AnyIncreasingMap_Is1_AndAReversal_IsMinus1()
    {
        float[] x = { 0.1f, 0.7f, 0.3f, 0.9f, 0.5f };
        Assert.Equal(1.0, SpearmanCorrelation.Compute(x, x.Select(v => MathF.Exp(5 * v)).ToArray()), 12);
        Assert.Equal(-1.0, SpearmanCorrelation.Compute(x, x.Select(v => -v * v).ToArray()), 12);
    }

    [Fact]
    public void WithoutTies_ItIsOneMinusSixSumOfSquaredRankDifferences()
    {
        // Ranks x 1..5, y 2,1,4,3,5: d^2 = 1+1+1+1+0 = 4; rho = 1 - 6*4/(5*24) = 0.8.
        Assert.Equal(0.8, SpearmanCorrelation.Compute(new[] { 1f, 2f, 3f, 4f, 5f }, new[] { 20f, 10f, 40f, 30f, 50f }), 12);
    }

    [Fact]
    public void WithTies_ItIsThePearsonCorrelationOfAverageRanks()
    {
        // x ranks 1, 2.5, 2.5, 4 against 1..4: deviations (-1.5, 0, 0, 1.5) and (-1.5, -0.5, 0.5, 1.5):
        // 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10).
        Assert.Equal(3 / Math.Sqrt(10), SpearmanCorrelation.Compute(new[] { 1f, 2f, 2f, 3f }, new[] { 1f, 2f, 3f, 4f }), 12);
        // y ranks 1, 2, 3.5, 5, 3.5 against 1..5: 8 / sqrt(10 * 9.5), scipy.stats.spearmanr's 0.82078...
        Assert.Equal(8 / Math.Sqrt(95), SpearmanCorrelation.Compute(new[] { 1f, 2f, 3f, 4f, 5f }, new[] { 5f, 6f, 7f, 8f, 7f }), 12);
    }

    [Fact]
    public void AConstantSeriesOrANaN_HasNoCorrelation_AndBadLengthsThrow()
    {
        Assert.True(double.IsNaN(SpearmanCorrelation.Compute(new[] { 1f, 1f, 1f }, new[] { 1f, 2f, 3f })));
        Assert.True(double.IsNaN(SpearmanCorrelation.Compute(new[] { 1f, float.NaN, 3f }, new[] { 1f, 2f, 3f })));
        Assert.Throws<ArgumentException>(() => SpearmanCorrelation.Compute(new[] { 1f, 2f }, new[] { 1f, 2f, 3f }));
        Assert.Throws<ArgumentException>(() => SpearmanCorrelation.Compute(new[] { 1f }, new[] { 1f }));
    }
}
