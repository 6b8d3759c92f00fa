using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EvoQuant.Tests.Quantization.Helpers;

/// <summary>The Fashion-MNIST workload: model, calibration ranges (computed once), labelled test set.</summary>
internal static class FashionData
{
    private static readonly Lazy<OnnxModel> s_model = new(() => OnnxModel.Load(TestData.Require(TestData.FashionCnn)));
    private static readonly Lazy<Dictionary<string, ActivationRange>> s_ranges = new(() =>
    {
        var (x, shape) = TestNpy.ReadFloats(TestData.Require(TestData.FashionCalib));
        var batch = new Dictionary<string, DenseTensor<float>> { ["input"] = new DenseTensor<float>(x, shape.Select(d => (int)d).ToArray()) };
        return MinMaxRanges.Measure(Model, new[] { batch });
    });

    public static OnnxModel Model => s_model.Value;
    public static IReadOnlyDictionary<string, ActivationRange> Ranges => s_ranges.Value;

    /// <summary>Top-1 accuracy (in %) of a model on the 2000 labelled test images.</summary>
    public static double Accuracy(OnnxModel model)
    {
        var (x, shape) = TestNpy.ReadFloats(TestData.Require(TestData.FashionTestX));
        var y = TestNpy.ReadInt64(TestData.Require(TestData.FashionTestY));
        using var session = new InferenceSession(model.ToBytes());
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x, shape.Select(d => (int)d).ToArray())) });
        var logits = (DenseTensor<float>)results.First().Value;
        int classes = logits.Dimensions[1], correct = 0;
        var span = logits.Buffer.Span;
        for (int i = 0; i < y.Length; i++)
        {
            int best = 0;
            for (int c = 1; c < classes; c++) if (span[i * classes + c] > span[i * classes + best]) best = c;
            if (best == y[i]) correct++;
        }
        return 100.0 * correct / y.Length;
    }
}
