using Xunit;
using EvoQuant.Evaluation;

namespace EvoQuant.Tests.Evaluation;

/// <summary>Top-1/top-k agreement and label accuracy from running counts.</summary>
public class ClassificationCounterTests
{
    [Fact]
    public void CountsAgreementAndAccuracyOverBatches()
    {
        // 3 classes, top-2. Rows: ref argmax 0,1,2,2; cand argmax 0,2,2,1.
        var reference = new float[] { 5, 1, 0, 0, 5, 1, 0, 1, 5, 1, 0, 9 };
        var candidate = new float[] { 4, 1, 0, 0, 3, 4, 0, 1, 6, 1, 9, 0 };
        var labels = new long[] { 0, 1, 1, 2 };
        var k = new ClassificationCounter(3, topK: 2);
        k.Add(reference.AsSpan(0, 6), candidate.AsSpan(0, 6), labels.AsSpan(0, 2));
        k.Add(reference.AsSpan(6), candidate.AsSpan(6), labels.AsSpan(2));

        Assert.Equal(4, k.Rows);
        Assert.Equal(2, k.Top1Agree);          // rows 0 and 2
        Assert.Equal(3, k.TopKAgree);          // + row 1, where ref class 1 is cand's 2nd; row 3's class 2 is cand's last
        Assert.Equal(3, k.ReferenceCorrect);   // rows 0, 1, 3
        Assert.Equal(1, k.CandidateCorrect);   // row 0 only (cand says 0,2,2,1)
        Assert.Equal(75.0, k.ReferenceAccuracyPercent);
    }

    [Fact]
    public void ArgMaxTakesTheFirstOfTies() => Assert.Equal(1, ClassificationCounter.ArgMax(new float[] { 0, 3, 3 }));
}
