using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;

namespace EvoQuant.Tests.Quantization;

/// <summary>A channel whose weights are all ~0 but whose bias is not (PaddleOCR det and rec have such
/// channels) would need a bias beyond int32 at scale input*weight. Its weight scale is widened instead of
/// clipping the bias, so the channel still outputs its bias: in QDQ and, since both share one bias fit, QOperator.</summary>
public sealed class BiasOverflowTests
{
    [Theory]
    [InlineData(QuantFormat.QDQ)]
    [InlineData(QuantFormat.QOperator)]
    public void TinyWeightChannelKeepsItsBias(QuantFormat format)
    {
        // 1x1 Conv, 2 input channels -> 2 output channels. Channel 0 ordinary, channel 1 weights 1e-9, bias 5.
        var w = new float[] { 0.5f, -0.25f, 1e-9f, -1e-9f };
        var bias = new float[] { 0.1f, 5f };
        var g = new GraphProto { Name = "g" };
        g.Input.Add(TinyModels.Float("x", 1, 2, 4, 4));
        g.Output.Add(TinyModels.Float("y", 1, 2, 4, 4));
        g.Initializer.Add(TensorData.FromFloats("w", new long[] { 2, 2, 1, 1 }, w));
        g.Initializer.Add(TensorData.FromFloats("b", new long[] { 2 }, bias));
        g.Node.Add(TinyModels.Node("Conv", new[] { "x", "w", "b" }, new[] { "y" }, "conv"));
        var model = TinyModels.Model(g);
        var ranges = new Dictionary<string, ActivationRange> { ["x"] = new(-1, 1), ["y"] = new(-1, 6) };

        var result = ModelQuantizer.Quantize(model, QuantizationOptions.Static(ranges) with { PerChannel = true, Format = format });
        if (format == QuantFormat.QOperator) Assert.Contains("QLinearConv", result.Model.Proto.Graph.Node.Select(n => n.OpType));
        Assert.Contains("scale of 1 channel(s) widened", result.Provenance!.Tensors["w"].Decision);
        Assert.Contains(result.Warnings, m => m.Contains("widened"));
        Assert.DoesNotContain(result.Warnings, m => m.Contains("clipped"));

        var x = TinyModels.Random(32, seed: 7);
        var yq = Run(result.Model, x);
        for (int p = 0; p < 16; p++)
        {
            double expected0 = 0.1 + 0.5 * x[p] - 0.25 * x[16 + p];
            Assert.InRange(yq[p], expected0 - 0.05, expected0 + 0.05);
            Assert.InRange(yq[16 + p], 5 - 0.05, 5 + 0.05); // clipped at int32 it would be ~1e-4 (int32 max x input scale x weight scale)
        }
    }

    private static float[] Run(OnnxModel model, float[] x)
    {
        using var s = new InferenceSession(model.ToBytes());
        using var r = s.Run(new[] { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, new[] { 1, 2, 4, 4 })) });
        return r.First().AsTensor<float>().ToArray();
    }
}
