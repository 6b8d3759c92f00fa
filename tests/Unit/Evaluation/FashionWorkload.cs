using Xunit;
using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Support;

namespace EvoQuant.Tests.Evaluation;

/// <summary>The Fashion-MNIST CNN, its MinMax calibration (by the project's calibrator) and the labelled
/// test set, computed once per test run.</summary>
internal static class FashionWorkload
{
    private static readonly Lazy<OnnxModel> s_model = new(() => OnnxModel.Load(TestData.Require(TestData.FashionCnn)));
    private static readonly Lazy<CalibrationTable> s_table = new(() =>
        Calibrator.Run(Model, new object[] { TestData.Require(TestData.FashionCalib) }, new CalibrationOptions { Method = CalibrationMethod.MinMax }));
    private static readonly Lazy<QuantizationResult> s_int8 = new(() => ModelQuantizer.Quantize(Model, QuantizationOptions.Static(Ranges)));
    private static readonly Lazy<NamedTensor> s_testX = new(() => NpyReader.Read(TestData.Require(TestData.FashionTestX)));

    public static OnnxModel Model => s_model.Value;

    public static CalibrationTable Table => s_table.Value;

    /// <summary>Calibrated ranges as the quantizer takes them.</summary>
    public static IReadOnlyDictionary<string, ActivationRange> Ranges =>
        Table.Ranges.ToDictionary(r => r.Tensor, r => new ActivationRange(r.RangeMin, r.RangeMax));

    /// <summary>Static QDQ int8, per tensor, MinMax: the reference tool's defaults.</summary>
    public static QuantizationResult Int8 => s_int8.Value;

    /// <summary>The 2000 test images, float32 [2000,1,28,28].</summary>
    public static NamedTensor TestX => s_testX.Value;

    public static long[] TestY => LabelFile.FromNpy(TestData.Require(TestData.FashionTestY));

    /// <summary>The first <paramref name="rows"/> test images and labels.</summary>
    public static (object[] Items, long[] Labels) TestSubset(int rows) =>
        (new object[] { TestX.SliceRows(0, rows) }, TestY[..rows]);
}
