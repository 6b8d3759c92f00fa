using EvoQuant.Evaluation;
using Xunit;

namespace EvoQuant.Tests.Evaluation;

/// <summary>Mean pooling over the mask, normalisation and per-row cosines, against values worked out by hand.</summary>
public class SentenceEmbeddingsTests
{
    [Fact]
    public void MeanPool_AveragesOnlyMaskedTokens_AndNormalises()
    {
        // Two rows of two tokens of width 2; the second row's second token is padding.
        float[] hidden = { 1, 0, 3, 0, /* row 2 */ 0, 2, 100, 100 };
        long[] mask = { 1, 1, 1, 0 };
        var pooled = SentenceEmbeddings.MeanPool(hidden, mask, 2, 2, 2);
        Assert.Equal(new float[] { 1, 0, 0, 1 }, pooled);
    }

    [Fact]
    public void RowCosines_GivesEachRowsDotProduct_AndRefusesMismatchedSets()
    {
        float[] a = { 1, 0, 0, 1 };
        float[] b = { 0.6f, 0.8f, 0, -1 };
        var cosines = SentenceEmbeddings.RowCosines(a, b, 2);
        Assert.Equal(2, cosines.Length);
        Assert.Equal(0.6, cosines[0], 6);
        Assert.Equal(-1.0, cosines[1], 6);
        Assert.Throws<ArgumentException>(() => SentenceEmbeddings.RowCosines(a, b.AsSpan(0, 2), 2));
        Assert.Throws<ArgumentException>(() => SentenceEmbeddings.RowCosines(a, b, 3));
    }
}
