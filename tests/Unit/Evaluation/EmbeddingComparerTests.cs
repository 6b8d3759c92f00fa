using EvoQuant.Evaluation;
using Xunit;

namespace EvoQuant.Tests.Evaluation;

/// <summary>EmbeddingComparer on hand-made embeddings: cosines, the query/document split and the retrieval figures.</summary>
public class EmbeddingComparerTests
{
    // Unit vectors in the plane at the given angles (degrees), [rows, 2].
    private static float[] AtAngles(params double[] degrees) =>
        degrees.SelectMany(d => new[] { (float)Math.Cos(d * Math.PI / 180), (float)Math.Sin(d * Math.PI / 180) }).ToArray();

    [Fact]
    public void IdenticalEmbeddings_HaveCosine1_Spearman1_AndEveryNeighbourKept()
    {
        var e = AtAngles(0, 10, 25, 50, 80, 120, 170, 200, 260, 300);
        var c = new EmbeddingComparer(queries: 2);
        c.AddPooled(e, e, 10, 2);
        var r = c.Result("out", "mask");
        Assert.Equal(10, r.Rows);
        Assert.Equal(1.0, r.MeanCosine, 6);
        Assert.Equal(1.0, r.MinCosine, 6);
        Assert.Equal(2, r.Queries);
        Assert.Equal(8, r.Documents);
        Assert.Equal(1.0, r.SpearmanCorrelation!.Value, 12);
        Assert.Equal(100.0, r.NeighbourAgreement);
    }

    [Fact]
    public void ARotatedRow_IsTheWorst_AndMovesItsQuerysNearestNeighbour()
    {
        // Query 0 at 0°, documents at 10°, 40°, 90°, 180°. The candidate turns document 10° to 60°:
        // its own cosine is cos 50°, and query 0's nearest document becomes the one at 40°.
        var reference = AtAngles(0, 10, 40, 90, 180);
        var candidate = AtAngles(0, 60, 40, 90, 180);
        var c = new EmbeddingComparer(queries: 1);
        c.AddPooled(reference.AsSpan(0, 4), candidate.AsSpan(0, 4), 2, 2);   // two batches
        c.AddPooled(reference.AsSpan(4), candidate.AsSpan(4), 3, 2);
        var r = c.Result("out", "mask");
        Assert.Equal(1, r.WorstRow);
        Assert.Equal(Math.Cos(50 * Math.PI / 180), r.MinCosine, 6);
        Assert.Equal((4 + Math.Cos(50 * Math.PI / 180)) / 5, r.MeanCosine, 6);
        Assert.Equal(0.0, r.NeighbourAgreement);
        // Reference cosines of query 0: 0.985, 0.766, 0, -1 (ranks 4 3 2 1); candidate 0.5, 0.766, 0, -1 (3 4 2 1):
        // one swapped pair, d^2 = 2, rho = 1 - 6*2/(4*15) = 0.8.
        Assert.Equal(0.8, r.SpearmanCorrelation!.Value, 9);
    }

    [Fact]
    public void ByDefault_AFifthOfTheRowsAreQueries_AndTheRestDocuments()
    {
        var e = AtAngles(Enumerable.Range(0, 16).Select(i => i * 7.0).ToArray());
        var c = new EmbeddingComparer();
        c.AddPooled(e, e, 16, 2);
        var r = c.Result("out", "mask");
        Assert.Equal(3, r.Queries);
        Assert.Equal(13, r.Documents);

        // Explicit counts keep only the rows they need; later rows still count in the cosines.
        var few = new EmbeddingComparer(queries: 2, documents: 3);
        few.AddPooled(e, e, 16, 2);
        var f = few.Result("out", "mask");
        Assert.Equal((2, 3, 16L), (f.Queries, f.Documents, f.Rows));

        var one = new EmbeddingComparer();
        one.AddPooled(e.AsSpan(0, 2), e.AsSpan(0, 2), 1, 2);
        var o = one.Result("out", "mask");
        Assert.Equal((1, 0), (o.Queries, o.Documents));
        Assert.Null(o.SpearmanCorrelation);
        Assert.Null(o.NeighbourAgreement);
    }

    [Fact]
    public void Pooling_AveragesOnlyMaskedTokens()
    {
        // One row of three tokens, the last one padding: pooled (1,0)+(0,1) -> 45°; the candidate's padding
        // token differs wildly but is masked out, so the cosine is 1.
        float[] reference = { 1, 0, 0, 1, 5, 5 };
        float[] candidate = { 1, 0, 0, 1, -9, 3 };
        var c = new EmbeddingComparer();
        c.Add(reference, candidate, new long[] { 1, 1, 0 }, 1, 3, 2);
        Assert.Equal(1.0, c.Result("out", "mask").MeanCosine, 6);
        Assert.Throws<ArgumentException>(() => c.AddPooled(new float[3], new float[3], 1, 3));   // another width
    }
}

/// <summary>The HTML report's embedding section.</summary>
public class EmbeddingHtmlTests
{
    private static AccuracyReport Report(EmbeddingComparison? embedding) => new()
    {
        Summary = new AccuracySummary { Reference = "m.onnx", Candidate = "m.int8.onnx", Rows = 40, Batches = 2, MinOutputSqnr = 12.5, Elapsed = TimeSpan.FromSeconds(1) },
        Outputs = Array.Empty<OutputComparison>(),
        Embedding = embedding,
    };

    [Fact]
    public void TheSectionShowsTheCosinesAndTheRetrievalFigures_OnlyWhenMeasured()
    {
        var e = new EmbeddingComparison
        {
            Output = "last_hidden_state", AttentionMask = "attention_mask", Rows = 40, Hidden = 384,
            MeanCosine = 0.98765, MinCosine = 0.91234, WorstRow = 17, Queries = 8, Documents = 32,
            SpearmanCorrelation = 0.97531, NeighbourAgreement = 87.5,
        };
        string html = HtmlReport.Render(Report(e));
        System.Xml.Linq.XDocument.Parse(html.Replace("<!DOCTYPE html>", ""));   // still well-formed
        foreach (var text in new[] { "Sentence embeddings", "0.98765 / 0.91234 (row 17 of 40)", "8 x 32", "0.97531", "87.50 %" })
            Assert.Contains(text, html);
        Assert.DoesNotContain("Sentence embeddings", HtmlReport.Render(Report(null)));
    }
}
