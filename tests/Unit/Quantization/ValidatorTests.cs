using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using Xunit;

namespace EvoQuant.Tests.Quantization;

public sealed class ValidatorTests
{
    private static QuantizationOptionsException Refused(QuantizationOptions o, OnnxModel? model = null) =>
        Assert.Throws<QuantizationOptionsException>(() => ModelQuantizer.Quantize(model ?? FashionData.Model, o));

    private static QuantizationOptions Good => QuantizationOptions.Static(FashionData.Ranges);

    [Fact]
    public void PerChannelNeedsOpset13()
    {
        var proto = FashionData.Model.CloneProto();
        proto.OpsetImport.Single(o => o.Domain == "").Version = 12;
        var e = Refused(Good with { PerChannel = true }, FashionData.Model.With(proto));
        Assert.Equal(nameof(QuantizationOptions.PerChannel), e.Option);
        Assert.Contains("opset 13", e.Message);
    }

    [Fact]
    public void SixteenBitTypesNeedQdq()
    {
        var e = Refused(Good with { Format = QuantFormat.QOperator, ActivationType = QuantType.UInt16 });
        Assert.Contains("16-bit", e.Message);
        Assert.Contains("QDQ", e.Message);
    }

    [Fact]
    public void Int4OnlyForWeights()
    {
        var e = Refused(Good with { ActivationType = QuantType.Int4 });
        Assert.Equal(nameof(QuantizationOptions.ActivationType), e.Option);
        Assert.Contains("weights only", e.Message);
    }

    [Fact]
    public void Int8ActivationsWithUInt8WeightsAreRefused()
    {
        var e = Refused(Good with { ActivationType = QuantType.Int8, WeightType = QuantType.UInt8 });
        Assert.Contains("no ONNX Runtime kernels", e.Message);
    }

    [Fact]
    public void StaticWithoutRangesNamesTheMissingTensors()
    {
        var ranges = FashionData.Ranges.Where(kv => kv.Key != "input").ToDictionary(kv => kv.Key, kv => kv.Value);
        var e = Refused(QuantizationOptions.Static(ranges));
        Assert.Equal(nameof(QuantizationOptions.ActivationRanges), e.Option);
        Assert.Contains("'input'", e.Message);
        Assert.Contains("1 activation tensor", e.Message);
    }

    [Fact]
    public void BadRangesAndOverridesAreRefused()
    {
        var ranges = new Dictionary<string, ActivationRange>(FashionData.Ranges) { ["input"] = new ActivationRange(2, 1) };
        Assert.Contains("'input'", Refused(QuantizationOptions.Static(ranges)).Message);
        Assert.Contains("greater than 0", Refused(Good with { TensorOverrides = new Dictionary<string, TensorOverride> { ["input"] = new() { Scale = 0 } } }).Message);
        Assert.Contains("outside", Refused(Good with { TensorOverrides = new Dictionary<string, TensorOverride> { ["input"] = new() { ZeroPoint = 300 } } }).Message);
        Assert.Contains("both", Refused(Good with { TensorOverrides = new Dictionary<string, TensorOverride> { ["input"] = new() { RangeMin = -1 } } }).Message);
        Assert.Contains("scale factor", Refused(Good with { TensorOverrides = new Dictionary<string, TensorOverride> { ["w"] = new() { ScaleFactor = 0 } } }).Message);
        Assert.Contains("scale factor", Refused(Good with { TensorOverrides = new Dictionary<string, TensorOverride> { ["w"] = new() { ScaleFactor = float.NaN } } }).Message);
    }

    [Fact]
    public void Int32IsForBiasesOnly()
    {
        Assert.Contains("biases", Refused(Good with { WeightType = QuantType.Int32 }).Message);
    }

    [Fact]
    public void DynamicNeedsEightBitActivations()
    {
        var e = Refused(QuantizationOptions.Dynamic() with { ActivationType = QuantType.UInt16 });
        Assert.Contains("8-bit", e.Message);
    }
}
