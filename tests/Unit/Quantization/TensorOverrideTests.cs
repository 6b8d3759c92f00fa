using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using Xunit;

namespace EvoQuant.Tests.Quantization;

public sealed class TensorOverrideTests
{
    [Fact]
    public void OverridesWinOverCalibration()
    {
        var overrides = new Dictionary<string, TensorOverride>
        {
            ["input"] = new() { Scale = 0.05f, ZeroPoint = 3 },
            ["logits"] = new() { RangeMin = -20, RangeMax = 20 },
        };
        var result = ModelQuantizer.Quantize(FashionData.Model, QuantizationOptions.Static(FashionData.Ranges) with { TensorOverrides = overrides });
        var g = result.Model.Graph;
        var q = g.Nodes.Single(n => n.OpType == "QuantizeLinear" && n.Input[0] == "input");
        Assert.Equal(0.05f, TensorData.ToFloatArray(g.GetConstant(q.Input[1])!)[0]);
        Assert.Equal(3, (sbyte)result.Model.GetRawBytes(g.GetConstant(q.Input[2])!)[0]);
        var dqOut = g.Producer("logits")!;
        var expected = QuantParamsCalculator.FromRange(-20, 20, QuantType.Int8, symmetric: false);
        Assert.Equal(expected.Scale, TensorData.ToFloatArray(g.GetConstant(dqOut.Input[1])!)[0]);
    }
}
