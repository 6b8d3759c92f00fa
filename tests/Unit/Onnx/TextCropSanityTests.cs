using EvoQuant.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;

namespace EvoQuant.Tests.Onnx;

/// <summary>The text crops are real inputs for the PaddleOCR direction classifier: the float model must
/// tell upright from upside-down text on them, or agreement tests of quantized models would be vacuous.</summary>
[Trait("Category", "TestData")]
public class TextCropSanityTests
{
    [Fact]
    public void FloatClassifierSeparatesUprightFromRotatedCrops()
    {
        var (data, count) = TextLineCrops.Load();
        Assert.True(count >= 60, $"only {count} crops");
        using var session = new InferenceSession(TestData.Require(TestData.OcrCls));
        string input = session.InputMetadata.Keys.Single();
        var tensor = new DenseTensor<float>(data, new[] { count, 3, TextLineCrops.H, TextLineCrops.W });
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(input, tensor) });
        var probs = results.First().AsTensor<float>();
        int correct = 0;
        for (int i = 0; i < count; i++)
        {
            int predicted = probs[i, 1] > probs[i, 0] ? 1 : 0; // class 1 = rotated 180 degrees
            if (predicted == i % 2) correct++;
        }
        Assert.True(correct >= count * 0.9, $"float classifier right on only {correct}/{count} crops");
    }
}
