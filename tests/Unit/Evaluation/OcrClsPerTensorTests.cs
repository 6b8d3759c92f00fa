using Xunit;
using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Support;
using Xunit.Abstractions;

namespace EvoQuant.Tests.Evaluation;

/// <summary>PaddleOCR's direction classifier: weights in Constant nodes, and a quantizer that raises the
/// opset (9 to 10). The per-tensor analysis must still compare every weight and re-run every quantized node.</summary>
[Trait("Category", "TestData")]
public sealed class OcrClsPerTensorTests(ITestOutputHelper output)
{
    [Fact]
    public void ConstantNodeWeightsAndRaisedOpsetAreHandled()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.OcrCls));
        string input = model.Inputs[0].Name;
        var rng = new Random(7);
        // Image-like: smooth values in the normalised [-1, 1] range PaddleOCR feeds.
        var samples = Enumerable.Range(0, 3).Select(_ =>
        {
            var data = new float[4 * 3 * 48 * 192];
            for (int i = 0; i < data.Length; i++) data[i] = (float)(Math.Sin(i * 0.01 + rng.NextDouble()) * 0.8);
            return (object)new NamedTensor(input, data, new long[] { 4, 3, 48, 192 });
        }).ToList();
        var table = Calibrator.Run(model, samples, new CalibrationOptions());
        var q = ModelQuantizer.Quantize(model, QuantizationOptions.Static(table.Ranges.ToDictionary(r => r.Tensor, r => new ActivationRange(r.RangeMin, r.RangeMax))) with { UseContribOps = true });

        var report = AccuracyComparer.Compare(model, q.Model, samples, new ComparisonOptions { PerTensor = true });

        output.WriteLine($"opset {model.DefaultOpset} -> {q.Model.DefaultOpset}; {report.Tensors.Count} tensors, {report.Nodes.Count} nodes; output SQNR {report.Summary.MinOutputSqnr:F1} dB");
        foreach (var n in report.Nodes.Take(3)) output.WriteLine($"{n.Node} ({n.OpType}) own {n.OwnSqnr:F1} dB");
        Assert.Empty(report.Notes);
        int weighted = model.Graph.Nodes.Count(n => n.OpType is "Conv" or "MatMul");
        Assert.True(report.Tensors.Count(t => t.Kind == TensorKind.Weight && t.OpType is "Conv" or "MatMul") >= weighted);
        Assert.True(report.Nodes.Count(n => n.OpType is "Conv" or "MatMul") >= weighted);
        Assert.All(report.Tensors.Where(t => t.Kind == TensorKind.Weight), t => Assert.True(t.Sqnr > 20, $"{t.Tensor}: {t.Sqnr} dB"));
        Assert.True(report.Summary.MinOutputSqnr > 10, $"output SQNR {report.Summary.MinOutputSqnr}");
    }
}
