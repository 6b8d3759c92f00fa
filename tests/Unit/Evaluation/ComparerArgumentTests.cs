using Xunit;
using EvoQuant.Evaluation;

namespace EvoQuant.Tests.Evaluation;

/// <summary>Labels that do not fit, progress, cancellation, and an identical candidate.</summary>
public class ComparerArgumentTests
{
    [Fact]
    public void TooFewLabelsAreAnError()
    {
        var (items, labels) = FashionWorkload.TestSubset(50);
        var e = Assert.Throws<ArgumentException>(() => AccuracyComparer.Compare(FashionWorkload.Model, FashionWorkload.Model, items,
            new ComparisonOptions { Labels = labels[..40], BatchSize = 16 }));
        Assert.Contains("40 labels", e.Message);
    }

    [Fact]
    public void TooManyLabelsAreAnError()
    {
        var (items, _) = FashionWorkload.TestSubset(50);
        Assert.Throws<ArgumentException>(() => AccuracyComparer.Compare(FashionWorkload.Model, FashionWorkload.Model, items,
            new ComparisonOptions { Labels = FashionWorkload.TestY[..60] }));
    }

    [Fact]
    public void ReportsProgressPerBatchAndStopsWhenCancelled()
    {
        var (items, _) = FashionWorkload.TestSubset(100);
        using var cts = new CancellationTokenSource();
        var seen = new List<ComparisonProgress>();
        var progress = new SyncProgress(p => { seen.Add(p); if (p.Batches == 2) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => AccuracyComparer.Compare(FashionWorkload.Model, FashionWorkload.Int8.Model, items,
            new ComparisonOptions { BatchSize = 10 }, progress, cts.Token));
        Assert.Equal(new long[] { 10, 20 }, seen.Select(p => p.Rows));
    }

    [Fact]
    public void IdenticalModelsHaveNoError()
    {
        var (items, labels) = FashionWorkload.TestSubset(64);
        var report = AccuracyComparer.Compare(FashionWorkload.Model, FashionWorkload.Model, items, new ComparisonOptions { Labels = labels, PerTensor = true });
        var o = Assert.Single(report.Outputs);
        Assert.Equal(0, o.Mse);
        Assert.True(double.IsPositiveInfinity(o.Sqnr));
        Assert.Equal(100, o.Top1Agreement);
        Assert.Equal(0, report.Summary.AccuracyDrop);
        Assert.Empty(report.Nodes); // nothing is quantized
        Assert.Empty(report.Suggestion.ExcludeNode);
        Assert.All(report.Tensors, t => Assert.True(double.IsPositiveInfinity(t.Sqnr), t.Tensor));
    }

    [Theory]
    [InlineData(0, 5, 128)]
    [InlineData(16, 0, 128)]
    [InlineData(16, 5, 7)]
    public void BadOptionsAreRefusedBeforeAnyRun(int batchSize, int topK, int bins)
    {
        var (items, _) = FashionWorkload.TestSubset(4);
        Assert.Throws<ArgumentException>(() => AccuracyComparer.Compare(FashionWorkload.Model, FashionWorkload.Model, items,
            new ComparisonOptions { BatchSize = batchSize, TopK = topK, HistogramBins = bins }));
    }

    [Fact]
    public void UnknownLabelOutputIsAnError()
    {
        var (items, labels) = FashionWorkload.TestSubset(4);
        var e = Assert.Throws<ArgumentException>(() => AccuracyComparer.Compare(FashionWorkload.Model, FashionWorkload.Model, items,
            new ComparisonOptions { Labels = labels, LabelOutput = "probabilities" }));
        Assert.Contains("logits", e.Message);
    }

    [Fact]
    public void BadSamplesGoToTheHandlerOrAreThrown()
    {
        var (items, _) = FashionWorkload.TestSubset(8);
        var withBad = new object[] { "/nonexistent/missing.npy" }.Concat(items).ToList();
        var errors = new List<string>();
        var report = AccuracyComparer.Compare(FashionWorkload.Model, FashionWorkload.Model, withBad, new ComparisonOptions
        {
            OnSampleError = e => { errors.Add(e.Source); return EvoQuant.Calibration.SampleErrorAction.Continue; },
        });
        Assert.Equal(8, report.Summary.Rows);
        Assert.Single(errors);
        Assert.Throws<EvoQuant.Data.SampleFormatException>(() => AccuracyComparer.Compare(FashionWorkload.Model, FashionWorkload.Model, withBad));
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; this one reports inline, in order.</summary>
    private sealed class SyncProgress(Action<ComparisonProgress> action) : IProgress<ComparisonProgress>
    {
        public void Report(ComparisonProgress value) => action(value);
    }
}
