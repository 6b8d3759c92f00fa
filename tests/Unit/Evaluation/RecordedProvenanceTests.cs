using Xunit;
using Xunit.Abstractions;
using EvoQuant.Evaluation;
using EvoQuant.Quantization;

namespace EvoQuant.Tests.Evaluation;

/// <summary>The per-tensor comparison gives the same report from the provenance the rewrite recorded as
/// from the one read back off the graphs, so Compare-QuantAccuracy can use the recorded one when it has it.</summary>
public sealed class RecordedProvenanceTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases => new() { "QDQ", "QDQ-excluded", "QOperator", "QOperator-excluded", "Dynamic" };

    private static QuantizationResult Quantize(string name)
    {
        var excluded = FashionWorkload.Model.Graph.Nodes.Where(n => n.OpType is "Conv" or "Add").Select(n => n.Name).Where((_, i) => i % 3 == 1).ToArray();
        return name switch
        {
            "QDQ" => FashionWorkload.Int8,
            "QDQ-excluded" => ModelQuantizer.Quantize(FashionWorkload.Model, QuantizationOptions.Static(FashionWorkload.Ranges) with { ExcludeNodes = excluded }),
            "QOperator" => ModelQuantizer.Quantize(FashionWorkload.Model, QuantizationOptions.Static(FashionWorkload.Ranges) with { Format = QuantFormat.QOperator }),
            "QOperator-excluded" => ModelQuantizer.Quantize(FashionWorkload.Model, QuantizationOptions.Static(FashionWorkload.Ranges) with { Format = QuantFormat.QOperator, ExcludeNodes = excluded }),
            _ => ModelQuantizer.Quantize(FashionWorkload.Model, QuantizationOptions.Dynamic()),
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RecordedAndInferredProvenanceGiveTheSameReport(string name)
    {
        var q = Quantize(name);
        Assert.NotNull(q.Provenance);
        var (items, _) = FashionWorkload.TestSubset(64);
        var inferred = AccuracyComparer.Compare(FashionWorkload.Model, q.Model, items, new ComparisonOptions { PerTensor = true, CheckKernels = false });
        var recorded = AccuracyComparer.Compare(FashionWorkload.Model, q.Model, items, new ComparisonOptions { PerTensor = true, CheckKernels = false, Provenance = q.Provenance });

        var a = Rows(inferred); var b = Rows(recorded);
        foreach (var line in a.Except(b)) output.WriteLine("inferred only: " + line);
        foreach (var line in b.Except(a)) output.WriteLine("recorded only: " + line);
        Assert.Equal(a, b);
        Assert.Equal(inferred.Suggestion.ToString(), recorded.Suggestion.ToString());
    }

    private static List<string> Rows(AccuracyReport r) =>
        r.Tensors.Select(t => $"T {t.Kind} {t.Tensor} {t.Node} {t.OpType} {t.Sqnr:F4} {t.QuantRangeMin:F5} {t.QdqSqnr:F4}")
         .Concat(r.Nodes.Select(n => $"N {n.Node} {n.OpType} {n.Tensor} own {n.OwnSqnr:F4} out {n.OutputQdqSqnr:F4} [{string.Join(",", n.OutputConsumers)}]"))
         .Concat(r.Notes.Select(n => "note " + n))
         .OrderBy(s => s, StringComparer.Ordinal).ToList();
}
