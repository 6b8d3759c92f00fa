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

    /// <summary>Static QDQ with the target's defaults for this CPU, per channel, MinMax ranges of the calibration half.
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

    public static QuantizationResult QuantizeCls(CalibrationMethod method, bool perChannel = true)
    {
        var table = Calibrator.Run(Cls, new object[] { CalibrationCrops(Cls) }, new CalibrationOptions { Method = method, BatchSize = 16, Symmetric = false });
        // The target's defaults for this CPU: uint8 activations on x86, pair-safe weights where pairs can saturate.
        var defaults = EvoQuant.Targets.TargetProfile.Resolve(EvoQuant.Targets.QuantTarget.Host).StaticDefaults();
        return ModelQuantizer.Quantize(Cls, defaults with { ActivationRanges = QuantizationOptions.RangesOf(table), PerChannel = perChannel, UseContribOps = perChannel });
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

    /// <summary>320x320 tiles of a scanned page at its own resolution (left and right ends of the page,
    /// padded below with white), preprocessed as PaddleOCR's detector is: grey to 3 equal channels,
    /// (x/255 - mean) / std with ImageNet's mean and std. Returns [tiles,3,320,320].</summary>
    public static (float[] Data, int[] Shape) PageTiles(string png, int size = 320)
    {
        var img = PngImage.Load(TestData.Require(png));
        float[] mean = { 0.485f, 0.456f, 0.406f }, std = { 0.229f, 0.224f, 0.225f };
        int[] lefts = { 0, Math.Max(0, img.Width - size) };
        var x = new float[lefts.Length * 3 * size * size];
        for (int t = 0; t < lefts.Length; t++)
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < size; y++)
                    for (int i = 0; i < size; i++)
                    {
                        int sx = lefts[t] + i;
                        byte p = sx < img.Width && y < img.Height ? img[sx, y] : (byte)255;
                        x[((t * 3 + c) * size + y) * size + i] = (p / 255f - mean[c]) / std[c];
                    }
        return (x, new[] { lefts.Length, 3, size, size });
    }

    /// <summary>Text-line crops (upright ones, from <paramref name="first"/> on) padded right with zeros to
    /// 48x<paramref name="width"/>, as PaddleOCR pads the recogniser's input. Returns [count,3,48,width].</summary>
    public static (float[] Data, int[] Shape) RecInputs(int first, int count, int width = 320)
    {
        var (crops, total) = Crops;
        int h = TextLineCrops.H, w = TextLineCrops.W;
        if (2 * (first + count) > total) throw new ArgumentOutOfRangeException(nameof(count), $"only {total / 2} upright crops");
        var x = new float[count * 3 * h * width];
        for (int n = 0; n < count; n++)
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < h; y++)
                    Array.Copy(crops, ((2 * (first + n) * 3 + c) * h + y) * w, x, ((n * 3 + c) * h + y) * width, w);
        return (x, new[] { count, 3, h, width });
    }
}
