using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using Xunit;

namespace EvoQuant.Tests.Quantization;

public sealed class NodeSelectionTests
{
    [Fact]
    public void ExcludedNodesStayFloatAndAreReported()
    {
        // Every node of the first block (names like /blocks/blocks.0/expand/expand.0/Conv).
        var options = QuantizationOptions.Static(FashionData.Ranges) with { ExcludeNodes = new[] { "/BLOCKS/blocks.0/*" } };
        var result = ModelQuantizer.Quantize(FashionData.Model, options);
        var excluded = FashionData.Model.Graph.Nodes.Where(n => n.Name.StartsWith("/blocks/blocks.0/", StringComparison.Ordinal) && n.OpType != "Constant").ToList();
        Assert.NotEmpty(excluded);
        foreach (var n in excluded)
        {
            var s = Assert.Single(result.Skipped, s => s.Name == n.Name);
            Assert.Contains("ExcludeNodes", s.Reason);
            Assert.Contains("/BLOCKS/blocks.0/*", s.Reason);
            Assert.DoesNotContain(result.QuantizedNodes, q => q.Name == n.Name);
        }
        // The excluded Convs keep float weights: their weight input is not a DequantizeLinear.
        var g = result.Model.Graph;
        foreach (var conv in g.Nodes.Where(n => n.OpType == "Conv" && n.Name.StartsWith("/blocks/blocks.0/", StringComparison.Ordinal)))
            Assert.NotEqual("DequantizeLinear", g.Producer(conv.Input[1])?.OpType);
        // Their Clips are not folded (still in the graph).
        Assert.Contains(g.Nodes, n => n.OpType == "Clip" && n.Name.StartsWith("/blocks/blocks.0/", StringComparison.Ordinal));
        Assert.True(FashionData.Accuracy(result.Model) > 90);
    }

    [Fact]
    public void OpTypesAndIncludeNodesNarrowTheSelection()
    {
        var options = QuantizationOptions.Static(FashionData.Ranges) with { OpTypes = new[] { "conv" }, IncludeNodes = new[] { "/stem/*" } };
        var result = ModelQuantizer.Quantize(FashionData.Model, options);
        var q = Assert.Single(result.QuantizedNodes);
        Assert.Equal("Conv", q.OpType);
        Assert.Contains(result.Skipped, s => s.OpType == "Gemm" && s.Reason.Contains("IncludeNodes"));
        Assert.Contains(result.Skipped, s => s.OpType == "Clip" && s.Name.StartsWith("/stem/") && s.Reason.Contains("OpTypes"));
    }

    [Fact]
    public void WildcardMatchesWholeNamesCaseInsensitively()
    {
        var p = new EvoQuant.Onnx.WildcardPattern("/stem/*conv?");
        Assert.True(p.IsMatch("/STEM/stem.0/Conv1"));
        Assert.False(p.IsMatch("/stem/stem.0/Conv"));
        Assert.False(p.IsMatch("x/stem/Conv1"));
    }
}
