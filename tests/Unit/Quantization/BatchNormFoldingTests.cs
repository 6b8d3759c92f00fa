using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;
using static EvoQuant.Tests.Quantization.Helpers.TinyModels;

namespace EvoQuant.Tests.Quantization;

/// <summary>BatchNormalization folded into the Conv before it: the same outputs as the float model,
/// no normalization and no unused float weights left, and nothing folded where it must not be.</summary>
public sealed class BatchNormFoldingTests
{
    private const int C = 3, M = 4;

    /// <summary>x [N, 3, 6, 6] -> Conv (4 channels, padded) -> BatchNormalization -> y; also used by the cmdlet's folding test.</summary>
    internal static OnnxModel ConvBn(bool convOutputAlsoRead = false, bool withBias = true)
    {
        var g = new GraphProto { Name = "conv_bn" };
        g.Input.Add(Float("x", -1, C, 6, 6));
        g.Output.Add(Float("y", -1, M, 6, 6));
        g.Initializer.Add(TensorData.FromFloats("w", new long[] { M, C, 3, 3 }, Random(M * C * 9, 1, 0.5f)));
        if (withBias) g.Initializer.Add(TensorData.FromFloats("b", new long[] { M }, Random(M, 2, 0.2f)));
        g.Node.Add(Constant("gamma", new long[] { M }, Random(M, 3, 1f).Select(v => 1 + v).ToArray()));
        g.Initializer.Add(TensorData.FromFloats("beta", new long[] { M }, Random(M, 4, 0.3f)));
        g.Initializer.Add(TensorData.FromFloats("mean", new long[] { M }, Random(M, 5, 0.3f)));
        g.Initializer.Add(TensorData.FromFloats("var", new long[] { M }, Random(M, 6, 0.5f).Select(v => 0.6f + v).ToArray()));
        var pads = new AttributeProto { Name = "pads", Type = AttributeProto.Types.AttributeType.Ints };
        pads.Ints.Add(new long[] { 1, 1, 1, 1 });
        g.Node.Add(Node("Conv", withBias ? new[] { "x", "w", "b" } : new[] { "x", "w" }, new[] { "c" }, "conv", pads));
        g.Node.Add(Node("BatchNormalization", new[] { "c", "gamma", "beta", "mean", "var" }, new[] { "y" }, "bn",
            new AttributeProto { Name = "epsilon", Type = AttributeProto.Types.AttributeType.Float, F = 1e-3f }));
        if (convOutputAlsoRead)
        {
            g.Output.Add(Float("c", -1, M, 6, 6));
        }
        return Model(g);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void FoldedModelComputesTheSameAndKeepsNoFloatLeftovers(bool withBias)
    {
        var model = ConvBn(withBias: withBias);
        var (folded, count) = BatchNormFolding.Fold(model);
        Assert.Equal(1, count);
        var g = folded.Proto.Graph;
        Assert.Equal(new[] { "Conv" }, g.Node.Select(n => n.OpType));
        Assert.Equal("y", g.Node[0].Output[0]);
        Assert.DoesNotContain(g.Initializer, t => t.Name is "w" or "b" or "beta" or "mean" or "var");
        Assert.Equal(2, g.Initializer.Count);
        Assert.NotSame(model.Proto, folded.Proto);
        Assert.Equal(2, model.Proto.Graph.Node.Count(n => n.OpType != "Constant")); // the input model is untouched

        var x = Random(2 * C * 36, 9);
        var f = Run(model, x);
        var q = Run(folded, x);
        Assert.True(ErrorMetrics.MaxAbsError(f, q) < 1e-4, $"max |diff| {ErrorMetrics.MaxAbsError(f, q)}");
    }

    [Fact]
    public void StaticQuantizationFoldsOnlyWhereTheNormalizationsOutputHasARange()
    {
        Assert.Equal(0, BatchNormFolding.Fold(ConvBn(), t => t == "c").Folded);
        Assert.Equal(1, BatchNormFolding.Fold(ConvBn(), t => t == "y").Folded);
    }

    [Fact]
    public void AConvOutputThatIsAlsoReadElsewhereIsNotFolded()
    {
        var (folded, count) = BatchNormFolding.Fold(ConvBn(convOutputAlsoRead: true));
        Assert.Equal(0, count);
        Assert.Contains(folded.Proto.Graph.Node, n => n.OpType == "BatchNormalization");
    }

    [Fact]
    [Trait("Category", "TestData")]
    public void TheOcrClassifierKeepsNoNormalizationAfterQuantization()
    {
        var model = OcrData.Cls;
        var table = EvoQuant.Calibration.Calibrator.Run(model, new object[] { OcrData.CalibrationCrops(model) },
            new EvoQuant.Calibration.CalibrationOptions { Method = EvoQuant.Calibration.CalibrationMethod.MinMax, BatchSize = 16 });
        var options = QuantizationOptions.Static(table) with { FoldBatchNormalization = true };
        var result = ModelQuantizer.Quantize(model, options);
        Assert.Equal(35, model.Proto.Graph.Node.Count(n => n.OpType == "BatchNormalization"));
        Assert.DoesNotContain(result.Model.Proto.Graph.Node, n => n.OpType == "BatchNormalization");
        Assert.Contains(result.TargetDecisions, d => d.StartsWith("35 BatchNormalization folded"));
        Assert.DoesNotContain(ModelQuantizer.Quantize(model, options with { FoldBatchNormalization = false }).Model.Proto.Graph.Node,
            n => n.OpType == "QuantizeLinear" && n.Input[0].EndsWith("_folded_weight"));
    }

    [Fact]
    [Trait("Category", "TestData")]
    public void TheFoldedOcrDetectorComputesWhatTheFloatOneDoes()
    {
        var model = OnnxModel.Load(EvoQuant.Tests.Support.TestData.Require(EvoQuant.Tests.Support.TestData.OcrDet));
        var (folded, count) = BatchNormFolding.Fold(model);
        var (x, shape) = OcrData.PageTiles(EvoQuant.Tests.Support.TextLineCrops.Page);
        var f = OcrData.Run(model, x, shape);
        var g = OcrData.Run(folded, x, shape);
        Assert.True(count > 0);
        Assert.True(ErrorMetrics.Sqnr(f, g) > 60, $"{count} folded: SQNR {ErrorMetrics.Sqnr(f, g):F1} dB, max |diff| {ErrorMetrics.MaxAbsError(f, g)}");
    }

    private static float[] Run(OnnxModel model, float[] x)
    {
        using var session = new InferenceSession(model.ToBytes());
        var input = new DenseTensor<float>(x, new[] { x.Length / (C * 36), C, 6, 6 });
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("x", input) });
        return results.First(r => r.Name == "y").AsEnumerable<float>().ToArray();
    }
}
