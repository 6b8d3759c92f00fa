using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Targets;
using EvoQuant.Tests.Support;
using EvoQuant.Text;
using Xunit;

namespace EvoQuant.Tests.Quantization;

/// <summary>Dynamic int8 of real BERT-family sentence-embedding models (all-MiniLM-L6-v2, arctic-embed-xs):
/// pooled embeddings of real English sentences against float, the embedding tables in int8, and ONNX
/// Runtime's optimized forms (Optimize-OnnxGraph, Basic and Extended) computing the same and quantizing within the bars. Few sentences, so each
/// test stays short; the 2000-sentence figures are the bench's (bench tf-dynamic, docs/benchmarks.md).</summary>
[Trait("Category", "TestData")]
public class TransformerDynamicTests
{
    private static readonly Lazy<IReadOnlyList<string>> Sentences = new(() =>
        SentenceCorpus.Load(TestData.Require(TestData.Fortunes)).Split(4242, 32)[0]);

    /// <summary>The target's dynamic defaults, as Invoke-Quantization -Dynamic uses them on this CPU.</summary>
    private static QuantizationOptions HostDynamic => TargetProfile.Resolve(QuantTarget.Host).DynamicDefaults();

    [Fact]
    public void MiniLm_DynamicDefaults_KeepEmbeddingsWithinBars_AndStoreTheWordTableInInt8()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.MiniLm));
        var result = ModelQuantizer.Quantize(model, HostDynamic);

        var (mean, min) = CosinesAgainstFloat(model, result.Model, TestData.MiniLmVocab);
        Assert.True(mean >= 0.99 && min >= 0.97, $"mean cosine {mean:F4}, worst {min:F4}");

        // The 30522 x 384 word table no longer ships in float: it is int8, gathered then scaled per row.
        var graph = result.Model.Proto.Graph;
        var wordTable = new long[] { 30522, 384 };
        Assert.False(graph.Initializer.Any(t => t.DataType == ElementTypes.Float && t.Dims.SequenceEqual(wordTable)), "the float word table is still there");
        Assert.True(graph.Initializer.Any(t => t.DataType == ElementTypes.Int8 && t.Dims.SequenceEqual(wordTable)), "no int8 word table");
        Assert.True(result.Model.WeightBytes * 3.5 < model.WeightBytes, $"weights {model.WeightBytes} -> {result.Model.WeightBytes} bytes");
        Assert.Contains(result.TargetDecisions, d => d.StartsWith("weights per channel where", StringComparison.Ordinal));
    }

    [Fact]
    public void ArcticXs_DynamicDefaults_KeepEmbeddingsWithinBars()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.ArcticXs));
        var result = ModelQuantizer.Quantize(model, HostDynamic);
        var (mean, min) = CosinesAgainstFloat(model, result.Model, TestData.ArcticXsVocab);
        Assert.True(mean >= 0.99 && min >= 0.97, $"mean cosine {mean:F4}, worst {min:F4}");
    }

    [Fact]
    public void MiniLm_PerTensorWeights_AsTheReferenceToolWritesThem_LoseAccuracy_PerChannelChoiceIsWhatFixesIt()
    {
        // The reason the defaults choose per-channel scales: per tensor, the same model falls well below the bars.
        var model = OnnxModel.Load(TestData.Require(TestData.MiniLm));
        var perTensor = ModelQuantizer.Quantize(model, HostDynamic with { PerChannelWhereItPays = false });
        var (mean, _) = CosinesAgainstFloat(model, perTensor.Model, TestData.MiniLmVocab);
        Assert.True(mean < 0.985, $"per-tensor mean cosine {mean:F4}");
    }

    [Fact]
    public void ChannelGranularity_ChoosesPerChannel_OnlyWhereChannelsDifferInWidth()
    {
        // [K=4, N=3]: channel 2 is ten times wider than the others. Per tensor, every channel's noise is set by
        // the widest (1); per channel by its own (0.1, 0.1, 1): the gain is 1 / mean(0.01, 0.01, 1).
        var uneven = new float[] { 0.1f, -0.1f, 1f, 0.05f, 0.1f, -1f, -0.1f, 0.02f, 0.5f, 0.1f, -0.1f, 0.3f };
        long[] dims = { 4, 3 };
        Assert.Equal(10 * Math.Log10(3 / 1.02), ChannelGranularity.PerChannelGainDb(uneven, dims, 1), 4);
        Assert.True(ChannelGranularity.PaysOff(uneven, dims, 1));
        var even = new float[] { 1f, -1f, 0.9f, 0.5f, 0.9f, -1f, -0.2f, 0.2f, 0.5f, 0.1f, -0.1f, 0.3f };
        Assert.False(ChannelGranularity.PaysOff(even, dims, 1));
        Assert.Equal(0, ChannelGranularity.PerChannelGainDb(even, dims, 1), 1);
    }

    [Fact]
    public void MiniLm_OptimizedByRuntime_ComputesTheSame_AndItsFusedFormQuantizesWithinBars()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.MiniLm));
        var dir = Directory.CreateTempSubdirectory("evoquant-optimize").FullName;
        try { OptimizeAndQuantize(model, dir); }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static void OptimizeAndQuantize(OnnxModel model, string dir)
    {
        string basic = Path.Combine(dir, "basic.onnx"), fused = Path.Combine(dir, "fused.onnx");
        var b = RuntimeGraphOptimizer.Optimize(model, basic);
        var e = RuntimeGraphOptimizer.Optimize(model, fused, GraphOptimization.Extended);
        Assert.True(b.NodesAfter < b.NodesBefore && e.NodesAfter < b.NodesAfter, $"{b.NodesBefore} -> basic {b.NodesAfter}, extended {e.NodesAfter}");
        Assert.DoesNotContain(OnnxModel.Load(basic).Proto.Graph.Node, n => n.Domain == "com.microsoft");
        // ONNX Runtime's CPU fusions for this export: FusedMatMul (Q x K^T with its scale), BiasGelu, LayerNormalization.
        // Its Attention fusion does not match this model's mask subgraph; DynamicAttentionTests covers QAttention.
        Assert.True(e.OpTypesAdded.Keys.Any(k => k.StartsWith("com.microsoft.", StringComparison.Ordinal)), string.Join(", ", e.OpTypesAdded));
        Assert.True(e.TypedTensors > e.NodesAfter / 2, $"{e.TypedTensors} typed tensors for {e.NodesAfter} nodes");

        var fusedModel = OnnxModel.Load(fused);
        var (same, sameMin) = CosinesAgainstFloat(model, fusedModel, TestData.MiniLmVocab, 8);
        Assert.True(sameMin > 0.9999, $"fused model: mean {same:F6}, worst {sameMin:F6}");

        var q = ModelQuantizer.Quantize(fusedModel, HostDynamic);
        // 36 MatMuls with weights (6 per layer); the first layer's down projection stays float, found after
        // BiasGelu as after the Erf form.
        Assert.True(q.QuantizedNodes.Count(n => n.OpType == "MatMul") >= 35, $"{q.QuantizedNodes.Count} nodes quantized");
        Assert.Single(q.Skipped, s => s.Reason.Contains("first feed-forward down projection", StringComparison.Ordinal));
        var (mean, min) = CosinesAgainstFloat(model, q.Model, TestData.MiniLmVocab);
        Assert.True(mean >= 0.99 && min >= 0.97, $"mean cosine {mean:F4}, worst {min:F4}");
    }

    [Fact]
    public void Optimizer_RefusesToOverwriteItsInput()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.MiniLm));
        Assert.Throws<ArgumentException>(() => RuntimeGraphOptimizer.Optimize(model, TestData.MiniLm));
    }

    /// <summary>Mean and worst cosine of the pooled embeddings of the test sentences, quantized against float.</summary>
    internal static (double Mean, double Min) CosinesAgainstFloat(OnnxModel reference, OnnxModel candidate, string vocabulary, int count = 32)
    {
        var encoder = new BertTextEncoder(TestData.Require(vocabulary));
        var sentences = Sentences.Value.Take(count).ToList();
        var a = SentenceEmbedder.Embed(reference, encoder, sentences, sentences.Count, out int hidden);
        var b = SentenceEmbedder.Embed(candidate, encoder, sentences, sentences.Count, out _);
        var cos = SentenceEmbeddings.RowCosines(a, b, hidden);
        return (cos.Average(), cos.Min());
    }

}
