using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Quantization.WeightOnly;
using EvoQuant.Tests.Support;
using EvoQuant.Text;
using Xunit;

namespace EvoQuant.Tests.Quantization.WeightOnly;

/// <summary>all-MiniLM-L6-v2 quantized weight-only, on real sentences (Debian's fortunes): the embeddings stay close
/// to float, every MatMul and the word embedding are quantized, and the MatMul weights shrink as block storage
/// says (codes plus one float scale per block). A few sentences only; the figures on 2000 are in docs/benchmarks.md.</summary>
[Trait("Category", "TestData")]
public sealed class WeightOnlyMiniLmTests
{
    private static readonly Lazy<(OnnxModel Model, BertTextEncoder Encoder, IReadOnlyList<string> Sentences, float[] Float, int Hidden)> Setup = new(() =>
    {
        var model = OnnxModel.Load(TestData.MiniLm);
        var encoder = new BertTextEncoder(TestData.MiniLmVocab);
        var sentences = SentenceCorpus.Load(TestData.Fortunes).Split(19, 32)[0];
        var f = SentenceEmbedder.Embed(model, encoder, sentences, 16, out int hidden);
        return (model, encoder, sentences, f, hidden);
    });

    [Theory]
    [InlineData(4, WeightOnlyForm.MatMulNBits, 0.95, 6.0)]
    [InlineData(8, WeightOnlyForm.MatMulNBits, 0.995, 3.5)]
    [InlineData(4, WeightOnlyForm.DequantizeLinear, 0.95, 6.0)]
    public void EmbeddingsStayCloseToFloatAndMatMulWeightsShrink(int bits, WeightOnlyForm form, double minCosine, double minRatio)
    {
        var s = Setup.Value;
        var result = ModelQuantizer.Quantize(s.Model, QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { Bits = bits, BlockSize = 32, Form = form }));

        int matmuls = s.Model.Proto.Graph.Node.Count(n => n.OpType == "MatMul" && s.Model.Graph.IsConstant(n.Input[1]));
        Assert.Equal(matmuls, result.WeightOnlyLayers.Count(l => l.OpType == "MatMul"));
        Assert.Contains(result.WeightOnlyLayers, l => l.OpType == "Gather" && l.Rows == s.Hidden);
        var mm = result.WeightOnlyLayers.Where(l => l.OpType == "MatMul").ToList();
        double ratio = (double)mm.Sum(l => l.BytesBefore) / mm.Sum(l => l.BytesAfter);
        Assert.True(ratio >= minRatio, $"MatMul weights {ratio:F2}x smaller");

        var q = SentenceEmbedder.Embed(result.Model, s.Encoder, s.Sentences, 16, out _);
        double cosine = SentenceEmbeddings.RowCosines(s.Float, q, s.Hidden).Average();
        Assert.True(cosine >= minCosine, $"mean cosine {cosine:F5}");
    }
}
