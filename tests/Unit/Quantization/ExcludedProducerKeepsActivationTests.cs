using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using Xunit;
using Xunit.Abstractions;

namespace EvoQuant.Tests.Quantization;

/// <summary>Regression: with a Conv and the Conv reading its ReLU6 both kept in float, the ReLU6 must stay.
/// It used to be folded into a quantization of the Conv's output that QOperator never writes between two
/// float nodes, so the clamp vanished (top-1 fell to 57%).</summary>
public sealed class ExcludedProducerKeepsActivationTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(QuantFormat.QOperator)]
    [InlineData(QuantFormat.QDQ)]
    public void ReluAfterAnExcludedProducerIsKept(QuantFormat format)
    {
        var model = FashionData.Model;
        var g = model.Graph;
        // A Conv -> Clip -> Conv chain, found by structure.
        var (producer, clip, reader) = g.Nodes.Where(n => n.OpType == "Conv")
            .SelectMany(c => g.Consumers(c.Output[0]).Where(x => x.OpType == "Clip")
                .SelectMany(x => g.Consumers(x.Output[0]).Where(r => r.OpType == "Conv").Select(r => (c, x, r))))
            .First();

        var options = new QuantizationOptions
        {
            Format = format,
            ActivationRanges = FashionData.Ranges,
            PerChannel = true,
            ExcludeNodes = new[] { producer.Name, reader.Name },
        };
        var result = ModelQuantizer.Quantize(model, options);
        Assert.Contains(result.Model.Proto.Graph.Node, n => n.OpType == "Clip" && n.Output[0] == clip.Output[0]);
        double acc = FashionData.Accuracy(result.Model);
        output.WriteLine($"{format}: {producer.Name} and {reader.Name} in float: {acc:F2}%");
        Assert.True(acc >= 91.25 - 1.0, $"{acc:F2}%");
    }
}
