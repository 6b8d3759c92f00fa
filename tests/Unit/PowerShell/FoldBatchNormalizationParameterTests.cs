using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Tests.Support;
using Xunit;
using static EvoQuant.Tests.Quantization.Helpers.TinyModels;

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

    /// <summary>x [N, 3, 6, 6] -> Conv (4 channels) -> BatchNormalization -> y.</summary>
    private string ConvBn()
    {
        var g = new GraphProto { Name = "conv_bn" };
        g.Input.Add(Float("x", -1, 3, 6, 6));
        g.Output.Add(Float("y", -1, 4, 6, 6));
        g.Initializer.Add(TensorData.FromFloats("w", new long[] { 4, 3, 3, 3 }, Random(108, 1, 0.5f)));
        g.Initializer.Add(TensorData.FromFloats("gamma", new long[] { 4 }, Random(4, 3).Select(v => 1 + v).ToArray()));
        g.Initializer.Add(TensorData.FromFloats("beta", new long[] { 4 }, Random(4, 4, 0.3f)));
        g.Initializer.Add(TensorData.FromFloats("mean", new long[] { 4 }, Random(4, 5, 0.3f)));
        g.Initializer.Add(TensorData.FromFloats("var", new long[] { 4 }, Random(4, 6, 0.5f).Select(v => 0.6f + v).ToArray()));
        g.Node.Add(Node("Conv", new[] { "x", "w" }, new[] { "c" }, "conv"));
        g.Node.Add(Node("BatchNormalization", new[] { "c", "gamma", "beta", "mean", "var" }, new[] { "y" }, "bn"));
        string path = Path.Combine(_dir, "conv_bn.onnx");
        Model(g).Save(path);
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
