using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using EvoQuant.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace EvoQuant.Tests.Quantization;

/// <summary>QOperator on PaddleOCR's direction classifier: opset 9 (raised to 10), weights in Constant
/// nodes, HardSigmoid/Mul blocks that stay float between integer convolutions. Calibrated on half of the
/// real text-line crops, checked on all: the model runs in ORT and decides 0 vs 180 degrees as float does.</summary>
[Trait("Category", "TestData")]
public sealed class QOperatorOcrClsTests(ITestOutputHelper output)
{
    [Fact]
    public void RunsAndAgreesWithFloatOnRealTextLines()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.OcrCls));
        string input = model.Inputs[0].Name;
        var (crops, count) = TextLineCrops.Load();
        int per = 3 * TextLineCrops.H * TextLineCrops.W, calib = count / 2;
        var calibBatch = new Dictionary<string, DenseTensor<float>> { [input] = new(crops.AsSpan(0, calib * per).ToArray(), new[] { calib, 3, TextLineCrops.H, TextLineCrops.W }) };
        var ranges = MinMaxRanges.Measure(model, new[] { calibBatch });

        var options = QuantizationOptions.Static(ranges) with { Format = QuantFormat.QOperator, ActivationType = QuantType.UInt8, PerChannel = true };
        var result = ModelQuantizer.Quantize(model, options);
        var ops = OpCounts.Of(result.Model);
        output.WriteLine("ops: " + string.Join(", ", ops.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}")));
        foreach (var w in result.Warnings.Take(5)) output.WriteLine("warning " + w);
        Assert.Equal(0, ops.GetValueOrDefault("Conv"));
        Assert.True(ops.GetValueOrDefault("QLinearConv") > 0);

        var f = Run(model, input, crops, count);
        var q = Run(result.Model, input, crops, count);
        int agree = 0;
        for (int i = 0; i < count; i++) if ((f[2 * i] > f[2 * i + 1]) == (q[2 * i] > q[2 * i + 1])) agree++;
        double maxDiff = ErrorMetrics.MaxAbsError(f, q);
        output.WriteLine($"{count} crops: decisions agree {agree}/{count}, max |p diff| {maxDiff:F3}, weights {result.WeightBytesBefore} -> {result.WeightBytesAfter}");
        Assert.True(agree >= count - 1, $"{agree}/{count} decisions agree");
    }

    private static float[] Run(OnnxModel model, string input, float[] x, int count)
    {
        using var s = new InferenceSession(model.ToBytes());
        using var r = s.Run(new[] { NamedOnnxValue.CreateFromTensor(input, new DenseTensor<float>(x, new[] { count, 3, TextLineCrops.H, TextLineCrops.W })) });
        return ((DenseTensor<float>)r.First().Value).Buffer.ToArray();
    }
}
