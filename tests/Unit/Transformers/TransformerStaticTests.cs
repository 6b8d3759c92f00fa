using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Targets;
using EvoQuant.Tests.Support;
using EvoQuant.Text;
using Xunit;

namespace EvoQuant.Tests.Transformers;

/// <summary>Static QDQ int8 of a real sentence-embedding model (all-MiniLM-L6-v2) with the defaults, on
/// real English (Debian fortunes): the embeddings stay close to float and the word-embedding table is
/// stored in int8. A few sentences only; the 2000-sentence figures and the speed are in bench (tf-static).</summary>
[Trait("Category", "TestData")]
public sealed class TransformerStaticTests(TransformerStaticTests.MiniLmCalibration miniLm) : IClassFixture<TransformerStaticTests.MiniLmCalibration>
{
    /// <summary>MiniLM calibrated once on 32 fortune sentences; 32 others to evaluate.</summary>
    public sealed class MiniLmCalibration
    {
        public OnnxModel Model { get; } = OnnxModel.Load(TestData.Require(TestData.MiniLm));
        public BertTextEncoder Encoder { get; } = new(TestData.Require(TestData.MiniLmVocab));
        public IReadOnlyList<string>[] Parts { get; } = SentenceCorpus.Load(TestData.Require(TestData.Fortunes)).Split(5, 32, 32);
        public CalibrationTable Table { get; }

        public MiniLmCalibration() =>
            Table = Calibrator.Run(Model, Encoder.EncodeBatches(Parts[0], 16).Select(Fit).Cast<object>().ToList(), new CalibrationOptions());

        /// <summary>The sample with only the inputs the model has.</summary>
        public Sample Fit(Sample s)
        {
            var inputs = Model.Graph.RuntimeInputs.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
            return new(s.Tensors.Where(t => inputs.Contains(t.Name)).ToList(), s.Source);
        }

        public QuantizationOptions Defaults(IReadOnlyDictionary<string, ActivationRange>? ranges = null) =>
            TargetProfile.Resolve(QuantTarget.X64Avx2).StaticDefaults() with { ActivationRanges = ranges ?? QuantizationOptions.RangesOf(Table) };
    }

    [Fact]
    public void MiniLm_static_int8_keeps_the_sentence_embeddings_and_stores_the_word_embeddings_in_int8()
    {
        var (model, encoder, parts) = (miniLm.Model, miniLm.Encoder, miniLm.Parts);
        var result = ModelQuantizer.Quantize(model, miniLm.Defaults());

        // The 30522 x 384 word embedding: an int8 initializer the Gather reads directly, each gathered row times its
        // token's scale (a [30522, 1] table gathered alongside); the table itself is never dequantized whole.
        var graph = result.Model.Graph;
        var wordGather = graph.Nodes.Where(n => n.OpType == "Gather")
            .Single(n => graph.GetConstant(n.Input[0]) is { Dims.Count: 2 } t && t.Dims[0] == 30522 && t.Dims[1] == 384);
        Assert.Equal(ElementTypes.Int8, graph.GetConstant(wordGather.Input[0])!.DataType);
        Assert.DoesNotContain(graph.Nodes, n => n.OpType == "DequantizeLinear" && n.Input[0] == wordGather.Input[0]);
        var cast = graph.Consumers(wordGather.Output[0]).Single();
        Assert.Equal("Cast", cast.OpType);
        var mul = graph.Consumers(cast.Output[0]).Single();
        Assert.Equal("Mul", mul.OpType);
        var scaleGather = graph.Producer(mul.Input[1])!;
        Assert.Equal(("Gather", wordGather.Input[1]), (scaleGather.OpType, scaleGather.Input[1]));
        Assert.Equal(new long[] { 30522, 1 }, graph.GetConstant(scaleGather.Input[0])!.Dims.ToArray());
        Assert.DoesNotContain(graph.Constants.Values, t => t.DataType == ElementTypes.Float && t.Dims.Aggregate(1L, (a, d) => a * d) > 1_000_000);

        // Pooled embeddings of sentences not used for calibration, against float's.
        var cosines = SentenceEmbeddings.RowCosines(SentenceEmbedder.Embed(model, encoder, parts[1], 16, out int hidden),
            SentenceEmbedder.Embed(result.Model, encoder, parts[1], 16, out _), hidden);
        Assert.Equal(32, cosines.Length);
        Assert.True(cosines.Average() >= 0.985, $"mean cosine {cosines.Average():F4}");
        Assert.True(cosines.Min() >= 0.96, $"worst cosine {cosines.Min():F4}");
    }

    /// <summary>Compare-QuantAccuracy -PerTensor names the culprit: one MatMul input given a range far too
    /// narrow (layer 0's feed-forward input, clipped to [-0.5, 0.5]) tops the tensors' ranking, and the node
    /// whose output it is (Add_111, the LayerNorm's last Add: a node's own error includes the quantization of
    /// its output) tops the nodes'.</summary>
    [Fact]
    public void Per_tensor_comparison_points_at_a_clipped_matmul_input_in_MiniLm()
    {
        const string consumer = "MatMul_112", culprit = "Add_111", input = "249";
        Assert.Contains(miniLm.Model.Graph.Nodes, n => n.Name == consumer && n.Input[0] == input);
        Assert.Contains(miniLm.Model.Graph.Nodes, n => n.Name == culprit && n.Output[0] == input);
        var ranges = QuantizationOptions.RangesOf(miniLm.Table).ToDictionary(StringComparer.Ordinal);
        ranges[input] = new ActivationRange(-0.5f, 0.5f);
        var result = ModelQuantizer.Quantize(miniLm.Model, miniLm.Defaults(ranges));

        var samples = miniLm.Encoder.EncodeBatches(miniLm.Parts[1].Take(8), 8).Select(miniLm.Fit).Cast<object>().ToList();
        var report = AccuracyComparer.Compare(miniLm.Model, result.Model, samples,
            new ComparisonOptions { PerTensor = true, Provenance = result.Provenance, CheckKernels = false });
        Assert.Equal(culprit, report.Summary.WorstNode);
        Assert.Equal(input, report.Tensors.Where(t => t.QdqSqnr != null).MinBy(t => t.QdqSqnr)!.Tensor);
    }
}
