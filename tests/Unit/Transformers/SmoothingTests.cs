using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Quantization.Smoothing;
using EvoQuant.Tests.Support;
using EvoQuant.Text;
using Xunit;

namespace EvoQuant.Tests.Transformers;

/// <summary>SmoothQuant-style migration on a real transformer (all-MiniLM-L6-v2), with channel ranges measured
/// on 32 fortune sentences and checked on 32 others.</summary>
[Trait("Category", "TestData")]
public sealed class SmoothingTests(SmoothingTests.MiniLmChannels miniLm) : IClassFixture<SmoothingTests.MiniLmChannels>
{
    /// <summary>MiniLM's per-channel MatMul input ranges, measured once.</summary>
    public sealed class MiniLmChannels
    {
        public OnnxModel Model { get; } = OnnxModel.Load(TestData.Require(TestData.MiniLm));
        public BertTextEncoder Encoder { get; } = new(TestData.Require(TestData.MiniLmVocab));
        public IReadOnlyList<string>[] Parts { get; } = SentenceCorpus.Load(TestData.Require(TestData.Fortunes)).Split(7, 32, 32);
        public IReadOnlyDictionary<string, ChannelRange> Ranges { get; }

        public MiniLmChannels() => Ranges = ChannelRangeCollector.Collect(Model, Calibration());

        /// <summary>Asserts <paramref name="rewritten"/> (a float rewrite of the model) computes the same embeddings
        /// of the evaluation sentences, to float's rounding.</summary>
        public void AssertSameEmbeddings(OnnxModel rewritten)
        {
            var original = SentenceEmbedder.Embed(Model, Encoder, Parts[1], 16, out int hidden);
            var after = SentenceEmbedder.Embed(rewritten, Encoder, Parts[1], 16, out _);
            var cosines = SentenceEmbeddings.RowCosines(original, after, hidden);
            Assert.True(cosines.Min() > 0.99999, $"worst cosine {cosines.Min():F7}");
            float worst = 0;
            for (int i = 0; i < original.Length; i++) worst = Math.Max(worst, Math.Abs(original[i] - after[i]));
            Assert.True(worst < 1e-4f, $"largest difference of an embedding value {worst}");
        }

        public List<object> Calibration() => Encoder.EncodeBatches(Parts[0], 16).Select(Fit).Cast<object>().ToList();

        private Sample Fit(Sample s)
        {
            var inputs = Model.Graph.RuntimeInputs.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
            return new(s.Tensors.Where(t => inputs.Contains(t.Name)).ToList(), s.Source);
        }
    }

    [Theory]
    [InlineData(0.5, true)]
    [InlineData(0.75, false)]
    public void Smoothing_is_an_identity_in_float(double alpha, bool insertMul)
    {
        var smoothed = ActivationSmoothing.Smooth(miniLm.Model, new SmoothingOptions { Alpha = alpha, InsertMul = insertMul, ChannelRanges = miniLm.Ranges });

        // The GELU outputs (their final Mul by 0.5) take 1/s for free; the LayerNorm outputs, also read by the
        // residual Add, need a Mul, or stay as they are.
        Assert.True(smoothed.Folded >= 6, $"{smoothed.Folded} folded");
        if (insertMul) Assert.True(smoothed.Inserted >= 12, $"{smoothed.Inserted} inserted");
        else Assert.Equal(0, smoothed.Inserted);
        Assert.True(smoothed.Weights >= 6 * (insertMul ? 5 : 1), $"{smoothed.Weights} weights scaled");

        miniLm.AssertSameEmbeddings(smoothed.Model);
    }

    [Fact]
    public void Smoothed_ranges_are_those_calibration_measures_on_the_smoothed_model()
    {
        var smoothed = ActivationSmoothing.Smooth(miniLm.Model, new SmoothingOptions { Alpha = 0.5, ChannelRanges = miniLm.Ranges });
        var measured = Calibrator.Run(smoothed.Model, miniLm.Calibration(), new CalibrationOptions());
        var byName = measured.Ranges.ToDictionary(r => r.Tensor, StringComparer.Ordinal);
        Assert.NotEmpty(smoothed.Ranges);
        foreach (var (tensor, derived) in smoothed.Ranges)
        {
            var m = byName[tensor];
            float tolerance = 1e-4f * Math.Max(Math.Abs(m.Min), Math.Abs(m.Max));
            Assert.True(Math.Abs(derived.Min - Math.Min(0, m.Min)) <= tolerance && Math.Abs(derived.Max - Math.Max(0, m.Max)) <= tolerance,
                $"{tensor}: derived {derived}, measured [{m.Min}, {m.Max}]");
        }
    }
}
