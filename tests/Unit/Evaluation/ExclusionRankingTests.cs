using Xunit;
using EvoQuant.Evaluation;

namespace EvoQuant.Tests.Evaluation;

/// <summary>The rules that turn ranked own errors into nodes to keep in float.</summary>
public class ExclusionRankingTests
{
    private static NodeComparison Node(string name, double own, double? outputQdq = null, params string[] readers) => new()
    {
        Node = name, OpType = "Conv", Order = 0, Tensor = name + "_out", OwnSqnr = own, OwnCosineSimilarity = 1, OwnMse = 0,
        OutputQdqSqnr = outputQdq, OutputConsumers = readers,
    };

    [Fact]
    public void SuggestionTakesNodesUnderTheTargetWorstFirst()
    {
        var ranked = new[] { Node("a", 3), Node("b", 12), Node("c", 25) };
        var s = AccuracyComparer.Suggest(ranked, new ComparisonOptions { SuggestionSqnrDb = 20 });
        Assert.Equal(new[] { "a", "b" }, s.ExcludeNode);
        Assert.Equal(20, s.TargetSqnrDb);
    }

    [Fact]
    public void ABadOutputQdqBringsItsReadersAlong()
    {
        // "a" is bad because of its output's Q/DQ pair, which stays while "r1" and "r2" read it quantized.
        var ranked = new[] { Node("a", 1, outputQdq: 1.5, "r1", "r2"), Node("b", 15, outputQdq: 40, "r3") };
        var s = AccuracyComparer.Suggest(ranked, new ComparisonOptions { SuggestionSqnrDb = 20 });
        Assert.Equal(new[] { "a", "r1", "r2", "b" }, s.ExcludeNode);
    }

    [Fact]
    public void SuggestionIsCappedAndSkipsUnnamedNodes()
    {
        var ranked = new[] { Node("(Conv -> x)", 1), Node("a", 2), Node("b", 3), Node("c", 4) };
        var s = AccuracyComparer.Suggest(ranked, new ComparisonOptions { SuggestionSqnrDb = 20, MaxSuggestedNodes = 2 });
        Assert.Equal(new[] { "a", "b" }, s.ExcludeNode);
    }

    [Fact]
    public void AnExcludedNodeStillRankedWorstHandsOverToItsReaders()
    {
        var ranked = new[] { Node("a", 1, 1, "r1", "r2"), Node("b", 10) };
        var next = AccuracyDrivenQuantizer.NextExclusions(ranked, new[] { "a" }, new HashSet<string>(), count: 1);
        Assert.Equal(new[] { "r1", "r2" }, next); // a group is taken whole
    }

    [Fact]
    public void RejectedNodesAreNotTriedAgain()
    {
        var ranked = new[] { Node("a", 1), Node("b", 10), Node("c", 11) };
        var next = AccuracyDrivenQuantizer.NextExclusions(ranked, Array.Empty<string>(), new HashSet<string> { "a" }, count: 2);
        Assert.Equal(new[] { "b", "c" }, next);
    }
}
