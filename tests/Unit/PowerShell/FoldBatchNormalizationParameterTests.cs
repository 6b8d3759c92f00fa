using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>Invoke-Quantization folds BatchNormalization by default (the target's static defaults), and
/// -FoldBatchNormalization:$false keeps it.</summary>
public sealed class FoldBatchNormalizationParameterTests : IDisposable
{
    private readonly PowerShellSession _ps = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-bnfold").FullName;

    public void Dispose()
    {
        _ps.Dispose();
        Directory.Delete(_dir, true);
    }

    private string ConvBn()
    {
        string path = Path.Combine(_dir, "conv_bn.onnx");
        BatchNormFoldingTests.ConvBn().Save(path);
        return path;
    }

    [Fact]
    public void FoldsByDefault_AndKeepsTheNormalizationWhenTurnedOff()
    {
        string model = ConvBn();
        const string ranges = "@{ x = @(-1, 1); c = @(-4, 4); y = @(-4, 4) }";
        var folded = _ps.Run($"Invoke-Quantization -Model $args[0] -Calibration {ranges} -Path $args[1]", model, Path.Combine(_dir, "folded.onnx"));
        var kept = _ps.Run($"Invoke-Quantization -Model $args[0] -Calibration {ranges} -FoldBatchNormalization:$false -Path $args[1]", model, Path.Combine(_dir, "kept.onnx"));
        Assert.Empty(folded.Errors);
        Assert.Empty(kept.Errors);
        var f = Assert.Single(folded.Objects<QuantizationResult>());
        var k = Assert.Single(kept.Objects<QuantizationResult>());
        Assert.Contains(f.TargetDecisions, d => d.Contains("BatchNormalization folded", StringComparison.Ordinal));
        Assert.DoesNotContain(f.Model.Proto.Graph.Node, n => n.OpType == "BatchNormalization");
        Assert.DoesNotContain(k.TargetDecisions, d => d.Contains("BatchNormalization folded", StringComparison.Ordinal));
        Assert.Contains(k.Model.Proto.Graph.Node, n => n.OpType == "BatchNormalization");
    }
}
