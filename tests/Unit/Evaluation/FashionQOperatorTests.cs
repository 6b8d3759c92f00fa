using Xunit;
using EvoQuant.Evaluation;
using EvoQuant.Quantization;
using Xunit.Abstractions;

namespace EvoQuant.Tests.Evaluation;

/// <summary>Per-tensor analysis of the Fashion CNN quantized to integer operators (QLinearConv ...):
/// every activation is matched to a dequantized integer tensor of the same value (no Clip/Relu folding
/// confusion), every weight and integer node is compared, under the reference node names.</summary>
public sealed class FashionQOperatorTests(ITestOutputHelper output)
{
    [Fact]
    public void IntegerOperatorModelIsAnalysedPerTensor()
    {
        var q = ModelQuantizer.Quantize(FashionWorkload.Model, QuantizationOptions.Static(FashionWorkload.Ranges) with { Format = QuantFormat.QOperator });
        var (items, labels) = FashionWorkload.TestSubset(300);

        var report = AccuracyComparer.Compare(FashionWorkload.Model, q.Model, items, new ComparisonOptions { PerTensor = true, Labels = labels });

        output.WriteLine($"float {report.Summary.ReferenceAccuracy:F2}% int8 {report.Summary.CandidateAccuracy:F2}%; {report.Tensors.Count} tensors, {report.Nodes.Count} nodes");
        foreach (var n in report.Nodes.Take(3)) output.WriteLine($"{n.Node} ({n.OpType}) own {n.OwnSqnr:F1} dB, accumulated {n.AccumulatedSqnr:F1} dB");
        foreach (var t in report.Tensors.Take(3)) output.WriteLine($"{t.Tensor} [{t.Kind}] {t.Sqnr:F1} dB");
        Assert.Empty(report.Notes);
        Assert.True(report.Summary.AccuracyDrop < 2, $"drop {report.Summary.AccuracyDrop}");
        var activations = report.Tensors.Where(t => t.Kind == TensorKind.Activation).ToList();
        Assert.True(activations.Count >= 20, $"{activations.Count} activations matched");
        Assert.All(activations, t => Assert.True(t.Sqnr > 15, $"{t.Tensor}: {t.Sqnr:F1} dB against {t.CandidateTensor}"));
        Assert.True(report.Tensors.Count(t => t.Kind == TensorKind.Weight) >= 17);
        var model = FashionWorkload.Model.Graph;
        Assert.True(report.Nodes.Count(n => n.OpType == "Conv") == 16, string.Join(", ", report.Nodes.Select(n => n.Node)));
        Assert.All(report.Nodes, n => Assert.Contains(model.Nodes, m => m.Name == n.Node)); // names ExcludeNodes takes
        Assert.All(report.Nodes, n => Assert.True(n.OwnSqnr > 15, $"{n.Node}: {n.OwnSqnr:F1} dB"));
    }
}
