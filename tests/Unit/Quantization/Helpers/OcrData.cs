using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EvoQuant.Tests.Quantization.Helpers;

/// <summary>PaddleOCR workloads on real text: the direction classifier on the text-line crops
/// (calibrated on the first half, evaluated on all), computed once per test run.</summary>
internal static class OcrData
{
    private static readonly Lazy<(float[] Data, int Count)> s_crops = new(() => TextLineCrops.Load());
    private static readonly Lazy<OnnxModel> s_cls = new(() => OnnxModel.Load(TestData.Require(TestData.OcrCls)));
    private static readonly Lazy<QuantizationResult> s_clsQdq = new(() => QuantizeCls(CalibrationMethod.MinMax));

    public static (float[] Data, int Count) Crops => s_crops.Value;
    public static int CropSize => 3 * TextLineCrops.H * TextLineCrops.W;
    public static OnnxModel Cls => s_cls.Value;

    /// <summary>Static QDQ, int8 activations and weights, per channel, MinMax ranges of the calibration half.
    /// The model is opset 9: DequantizeLinear with an axis needs opset 13, so the Q/DQ nodes use the
    /// com.microsoft domain (as the reference tool does for types or axes the model's opset lacks).</summary>
    public static QuantizationResult ClsQdq => s_clsQdq.Value;

    /// <summary>The first half of the crops (upright and rotated alternate, so both classes are in it).</summary>
    public static NamedTensor CalibrationCrops(OnnxModel model)
    {
        var (data, count) = Crops;
        int n = count / 2;
        return new NamedTensor(model.Inputs[0].Name, data[..(n * CropSize)], new long[] { n, 3, TextLineCrops.H, TextLineCrops.W });
    }

    public static QuantizationResult QuantizeCls(CalibrationMethod method)
    {
        var table = Calibrator.Run(Cls, new object[] { CalibrationCrops(Cls) }, new CalibrationOptions { Method = method, BatchSize = 16 });
        return ModelQuantizer.Quantize(Cls, QuantizationOptions.Static(table) with { PerChannel = true, UseContribOps = true });
    }

    /// <summary>The classifier's [N,2] probabilities on all crops.</summary>
    public static float[] ClsOutputs(OnnxModel model)
    {
        var (data, count) = Crops;
        return Run(model, data, new[] { count, 3, TextLineCrops.H, TextLineCrops.W });
    }

    /// <summary>Runs a single-input, single-output model and returns its first output's values.</summary>
    public static float[] Run(OnnxModel model, float[] x, int[] shape)
    {
        using var session = new InferenceSession(model.ToBytes());
        string input = session.InputMetadata.Keys.Single();
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(input, new DenseTensor<float>(x, shape)) });
        return results.First().AsTensor<float>().ToArray();
    }
}
