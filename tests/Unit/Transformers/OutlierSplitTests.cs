using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Evaluation;
using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Quantization.Smoothing;
using EvoQuant.Targets;
using EvoQuant.Tests.Support;
using EvoQuant.Text;
using Xunit;

namespace EvoQuant.Tests.Transformers;

/// <summary>The LLM.int8()-style outlier split on a real transformer (all-MiniLM-L6-v2), channel ranges
/// measured on 32 fortune sentences and checked on 32 others.</summary>
[Trait("Category", "TestData")]
public sealed class OutlierSplitTests(SmoothingTests.MiniLmChannels miniLm) : IClassFixture<SmoothingTests.MiniLmChannels>
{
    private static readonly OutlierSplitOptions Defaults = new();

    [Fact]
    public void Outlier_channels_are_those_far_above_the_median_largest_first_and_capped()
    {
        // Ten channels reaching 1, one reaching 20 and one reaching -9 (|max| counts): the median is 1.
        var min = Enumerable.Repeat(-0.5f, 12).ToArray();
        var max = Enumerable.Repeat(1f, 12).ToArray();
        max[3] = 20;
        min[7] = -9;
        var range = new ChannelRange(12);
        range.Accumulate(min);
        range.Accumulate(max);

        Assert.Equal(new[] { 3, 7 }, OutlierChannelSplit.OutlierChannels(range, 6, 8));
        Assert.Equal(new[] { 3 }, OutlierChannelSplit.OutlierChannels(range, 6, 1));
        Assert.Equal(new[] { 3 }, OutlierChannelSplit.OutlierChannels(range, 10, 8));
        Assert.Empty(OutlierChannelSplit.OutlierChannels(range, 25, 8));
    }

    [Fact]
    public void The_split_model_computes_what_the_original_does_in_float()
    {
        var split = OutlierChannelSplit.Split(miniLm.Model, Defaults with { ChannelRanges = miniLm.Ranges });
        Assert.NotEmpty(split.Channels);
        Assert.Contains(split.Model.Graph.Nodes, n => n.OpType == "Gather" && split.FloatOutputs.Contains(n.Output[0]));

        miniLm.AssertSameEmbeddings(split.Model);
    }

    [Fact]
    public void The_split_channels_are_the_calibrated_outliers_and_the_rest_has_a_narrower_range()
    {
        var split = OutlierChannelSplit.Split(miniLm.Model, Defaults with { ChannelRanges = miniLm.Ranges });
        // The first feed-forward down projection's input (BERT's first GELU) has the widest outliers.
        string gelu = FeedForwardProjections.DownProjections(miniLm.Model.Graph)[0].Input[0];
        Assert.Contains(gelu, split.Channels.Keys);
        foreach (var (tensor, channels) in split.Channels)
        {
            var r = miniLm.Ranges[tensor];
            var abs = Enumerable.Range(0, r.Channels).Select(r.AbsMax).ToArray();
            float median = abs.Order().ElementAt(abs.Length / 2);
            // Each chosen channel stands over 6x the median; no channel left out stands higher than a chosen one
            // or, below the cap, over the threshold.
            Assert.All(channels, j => Assert.True(abs[j] > Defaults.Ratio * median, $"{tensor}: channel {j} |max| {abs[j]}, median {median}"));
            var rest = Enumerable.Range(0, abs.Length).Except(channels).Select(j => abs[j]).Max();
            Assert.True(rest <= channels.Min(j => abs[j]), $"{tensor}: a channel left out reaches {rest}");
            if (channels.Length < Defaults.MaxChannels) Assert.True(rest <= Defaults.Ratio * median, $"{tensor}: {rest} over the threshold left out");
        }
        // Its quantized range is that of the remaining channels, exactly, and under half the full one.
        var full = miniLm.Ranges[gelu];
        var kept = split.Ranges[gelu];
        var left = Enumerable.Range(0, full.Channels).Except(split.Channels[gelu]).ToList();
        Assert.Equal(Math.Max(0, left.Max(j => full.Max[j])), kept.Max);
        Assert.Equal(Math.Min(0, left.Min(j => full.Min[j])), kept.Min);
        Assert.True(kept.Max - kept.Min < 0.5 * (full.Max.Max() - Math.Min(0, full.Min.Min())), $"remaining {kept}, full [{full.Min.Min()}, {full.Max.Max()}]");
    }

    [Fact]
    public void Static_int8_with_the_split_is_closer_to_float_at_the_first_down_projection_and_in_the_embeddings()
    {
        var calibration = miniLm.Calibration();
        var table = Calibrator.Run(miniLm.Model, calibration, new CalibrationOptions());
        // Every down projection quantized, so the split alone makes the difference.
        var options = TargetProfile.Resolve(QuantTarget.X64Avx2).StaticDefaults() with
        {
            ActivationRanges = QuantizationOptions.RangesOf(table),
            KeepFirstDownProjectionFloat = false,
        };
        var plain = ModelQuantizer.Quantize(miniLm.Model, options);
        var split = ModelQuantizer.Quantize(miniLm.Model, options with { OutlierSplit = Defaults with { ChannelRanges = miniLm.Ranges } });
        Assert.Contains(split.TargetDecisions, d => d.StartsWith("outlier split:", StringComparison.Ordinal));
        Assert.Contains(split.Skipped, s => s.Reason.Contains("outlier split", StringComparison.Ordinal));
        // The split model lives in memory only: the size before is the user's file's.
        Assert.True(miniLm.Model.SizeOnDisk > 0);
        Assert.Equal(miniLm.Model.SizeOnDisk, split.FileSizeBefore);

        // The first down projection's output (the split keeps its name) on sentences not calibrated on.
        string product = FeedForwardProjections.DownProjections(miniLm.Model.Graph)[0].Output[0];
        var sample = miniLm.Encoder.Encode(miniLm.Parts[1].Take(16).ToList());
        float[] Product(OnnxModel m)
        {
            using var runner = new ModelRunner(AugmentedModelBuilder.Build(m, new[] { product }), optimize: true);
            var inputs = sample.Tensors.Where(t => runner.InputMetadata.ContainsKey(t.Name!)).ToDictionary(t => t.Name!, t => t);
            using var run = runner.Run(inputs, new[] { product });
            return run.Data(product).ToArray();
        }
        var reference = Product(miniLm.Model);
        double plainSqnr = ErrorMetrics.Sqnr(reference, Product(plain.Model)), splitSqnr = ErrorMetrics.Sqnr(reference, Product(split.Model));
        Assert.True(splitSqnr >= plainSqnr + 3, $"SQNR of {product}: split {splitSqnr:F1} dB, plain {plainSqnr:F1} dB");

        var floatEmbeddings = SentenceEmbedder.Embed(miniLm.Model, miniLm.Encoder, miniLm.Parts[1], 16, out int hidden);
        double Mean(OnnxModel m) => SentenceEmbeddings.RowCosines(floatEmbeddings, SentenceEmbedder.Embed(m, miniLm.Encoder, miniLm.Parts[1], 16, out _), hidden).Average();
        double plainMean = Mean(plain.Model), splitMean = Mean(split.Model);
        Assert.True(splitMean > plainMean, $"mean cosine: split {splitMean:F4}, plain {plainMean:F4}");
    }
}
