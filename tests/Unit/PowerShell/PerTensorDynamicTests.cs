using EvoQuant.Evaluation;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>Compare-QuantAccuracy -PerTensor on a dynamically quantized model: its provenance is read from the
/// graph (DynamicQuantizeLinear, MatMulInteger, the rescaling Muls), so weights and each integer node's own
/// error are reported under the float model's names.</summary>
public sealed class PerTensorDynamicTests : IDisposable
{
    private readonly PowerShellSession _ps = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-ptd").FullName;

    public void Dispose()
    {
        _ps.Dispose();
        Directory.Delete(_dir, true);
    }

    [Fact]
    public void DynamicResultIsComparedPerTensor()
    {
        var r = _ps.Run(@"
            $m = Get-OnnxGraph $args[0]
            Invoke-Quantization -Model $m -Dynamic -Path ($args[2] + '/dyn.onnx') |
                Compare-QuantAccuracy -Reference $m -InputPath $args[1] -PerTensor -NoTiming", TestData.FashionCnn, TestData.FashionCalib, _dir);

        Assert.Empty(r.Errors);
        var report = Assert.Single(r.Objects<AccuracyReport>());
        var gemm = Assert.Single(report.Nodes);
        Assert.Equal("/fc/Gemm", gemm.Node);
        Assert.InRange(gemm.OwnSqnr, 20, 90);
        var weight = Assert.Single(report.Tensors, t => t.Kind == TensorKind.Weight && t.Node == "/fc/Gemm" && t.CandidateTensor.Length > 0);
        Assert.InRange(weight.Sqnr, 25, 90);
        Assert.Contains(report.Tensors, t => t.Kind == TensorKind.Activation && t.Tensor == "logits");
    }
}
