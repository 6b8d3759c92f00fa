using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Onnx;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>The PaddleOCR direction classifier: weights in Constant nodes, no value_info.</summary>
[Trait("Category", "TestData")]
public class OcrCalibrationTests
{
    /// <summary>Deterministic image-like input: smooth stripes and blobs normalised like PaddleOCR ((x/255 - 0.5) / 0.5).</summary>
    private static NamedTensor Images(int n, int seed)
    {
        var r = new Random(seed);
        var x = new float[n * 3 * 48 * 192];
        for (int i = 0; i < n; i++)
        {
            double fx = 0.05 + r.NextDouble() * 0.3, fy = 0.1 + r.NextDouble() * 0.3, phase = r.NextDouble() * 6;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 48; y++)
                    for (int w = 0; w < 192; w++)
                    {
                        double v = 0.5 + 0.5 * Math.Sin(fx * w + phase) * Math.Cos(fy * y + c);
                        x[((i * 3 + c) * 48 + y) * 192 + w] = (float)((v - 0.5) / 0.5);
                    }
        }
        return new NamedTensor(null, x, new long[] { n, 3, 48, 192 }, $"pattern-{seed}");
    }

    [Fact]
    public void Cls_model_calibrates_with_finite_ranges()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.OcrCls));
        var table = Calibrator.Run(model, new object[] { Images(6, 1), Images(5, 2) },
            new CalibrationOptions { Method = CalibrationMethod.Entropy, Bins = 2048, BatchSize = 4 });
        Assert.Equal(11, table.SampleCount);
        Assert.True(table.Count > 20, $"only {table.Count} tensors calibrated");
        Assert.All(table.Ranges, r => Assert.True(float.IsFinite(r.RangeMin) && float.IsFinite(r.RangeMax) && r.RangeMin <= r.RangeMax, r.ToString()));
        Assert.DoesNotContain(table.Ranges, r => model.Graph.IsConstant(r.Tensor));
        var softmax = model.Graph.Nodes.LastOrDefault(n => n.OpType == "Softmax");
        // Calibrated only where QDQ quantizes it: not after a float MatMul product (AfterQuantizedInputs).
        if (softmax != null && table[softmax.Output[0]] is { } r)
        {
            Assert.True(r.Min >= 0 && r.Max <= 1, r.ToString());
        }
    }
}
