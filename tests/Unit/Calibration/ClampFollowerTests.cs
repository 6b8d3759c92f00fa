using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Tests.Quantization.Helpers;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Calibration;

/// <summary>Entropy histograms of tensors that clamp or move another's values are derived from that tensor's
/// counts (<see cref="ClampFollowers"/>): the tables must be those of counting every tensor, bit for bit,
/// including when a batch forces a follower to count its own values.</summary>
public class ClampFollowerTests
{
    private static HistogramCalibrator Entropy(int bins = 2048) =>
        (HistogramCalibrator)Calibrator.Create(new CalibrationSettings { Method = CalibrationMethod.Entropy, Bins = bins });

    private static float[] Clamp(float[] x, float lo, float hi) => x.Select(v => float.IsNaN(v) ? v : Math.Clamp(v, lo, hi)).ToArray();

    /// <summary>Feeds each batch of x and of its clamps to a calibrator whose clamps follow x (it ignores their
    /// own values, computing them from x's once it counts them) and to one that counts everything, and
    /// compares the tables.</summary>
    private static HistogramCalibrator AssertFollowingMatchesCounting(IEnumerable<float[]> batches, params (string Name, float Lo, float Hi, bool Clamps)[] followers)
    {
        var shared = Entropy();
        var counted = Entropy();
        foreach (var f in followers) Assert.True(shared.Follow(new ClampFollowers.Follower(f.Name, "x", f.Lo, f.Hi, f.Clamps)));
        foreach (var x in batches)
            foreach (var c in new[] { shared, counted })
            {
                c.Update("x", x);
                foreach (var f in followers) c.Update(f.Name, f.Clamps ? Clamp(x, f.Lo, f.Hi) : x);
            }
        Tables.AssertSame(counted.ComputeRanges(), shared.ComputeRanges());
        return shared;
    }

    [Fact]
    public void Relu_and_relu6_follow_a_gaussian_stream()
    {
        var x = Synthetic.Gaussian(400_000, 3, seed: 1);
        var c = AssertFollowingMatchesCounting(Synthetic.Batches(x, 50_000), ("relu", 0, float.PositiveInfinity, true), ("relu6", 0, 6, true), ("clip", -8, 8, true));
        Assert.All(new[] { "relu", "relu6", "clip" }, t => Assert.True(c.IsDerived(t), t)); // derived to the end
    }

    [Fact]
    public void A_range_that_grows_past_the_finer_grid_makes_the_follower_count_itself()
    {
        // ReLU6 stays within [0, 6] while x grows to 1000, 200x past its first batch: x's grid widens by 8x
        // and then doubles, to 8x coarser than ReLU6's, past the one extra bit of resolution a source keeps;
        // ReLU6 then counts its own values from that batch on.
        var r = new Random(2);
        var batches = new[] { 5f, 7f, 1000f, 3f }.Select(scale => Enumerable.Range(0, 150_000).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray()); // over one chunk of computed values
        var c = AssertFollowingMatchesCounting(batches.ToArray(), ("relu6", 0, 6, true), ("move", float.NegativeInfinity, float.PositiveInfinity, false));
        Assert.False(c.IsDerived("relu6"));
        Assert.True(c.IsDerived("move"));
    }

    [Fact]
    public void Followers_whose_own_grids_widen_stay_derived()
    {
        // x reaches 6x past its first batch, its ReLU 6x past its own (which starts at the second batch: the
        // first is all negative), the clip to [-8, 8] 4x: every grid keeps its width and grows.
        var r = new Random(3);
        var batches = new[] { (-1f, 0f), (-1f, 1f), (-3f, 3f), (-6f, 6f) }
            .Select(b => Enumerable.Range(0, 40_000).Select(_ => b.Item1 + (float)r.NextDouble() * (b.Item2 - b.Item1)).ToArray()).ToArray();
        var c = AssertFollowingMatchesCounting(batches, ("relu", 0, float.PositiveInfinity, true), ("clip", -2, 2, true), ("move", float.NegativeInfinity, float.PositiveInfinity, false));
        Assert.All(new[] { "relu", "clip", "move" }, t => Assert.True(c.IsDerived(t), t));
        var relu = c.ComputeRanges().Single(t => t.Tensor == "relu").Histogram!;
        Assert.True(relu.FirstBin + relu.Counts.Length > 2048, "the ReLU's grid grew past its first batch's bins");
    }

    [Fact]
    public void NaN_and_infinities_stop_a_clamp_following_but_not_a_move()
    {
        var x = Synthetic.Gaussian(90_000, 2, seed: 3);
        var batches = Synthetic.Batches(x, 30_000).ToArray();
        batches[1][17] = float.NaN;
        batches[2][5] = float.PositiveInfinity;
        var shared = Entropy();
        Assert.True(shared.Follow(new ClampFollowers.Follower("relu", "x", 0, float.PositiveInfinity, true)));
        Assert.True(shared.Follow(new ClampFollowers.Follower("move", "x", float.NegativeInfinity, float.PositiveInfinity, false)));
        var counted = Entropy();
        for (int b = 0; b < batches.Length; b++)
            foreach (var c in new[] { shared, counted })
            {
                c.Update("x", batches[b]);
                c.Update("relu", Clamp(batches[b], 0, float.PositiveInfinity));
                c.Update("move", batches[b]);
            }
        Assert.False(shared.IsDerived("relu"));
        Assert.True(shared.IsDerived("move"));
        Tables.AssertSame(counted.ComputeRanges(), shared.ComputeRanges());
        Assert.Equal(2, shared.ComputeRanges().Single(t => t.Tensor == "move").NonFiniteCount);
    }

    [Theory]
    [InlineData(1000f, -5.605194E-45f)] // -2^-147: on the source's grid (2^2) bin -1; on the plain one (2^3) it underflows
    [InlineData(3e38f, -1e-30f)]        // plain grid 2^121 takes the double path, the source's 2^120 the float one
    public void Tiny_values_land_in_the_same_bins_on_the_finer_grid_of_a_source(float big, float tiny)
    {
        var x = new[] { big, tiny, 1f, -1f };
        var shared = Entropy(128);
        var counted = Entropy(128);
        Assert.True(shared.Follow(new ClampFollowers.Follower("m", "x", float.NegativeInfinity, float.PositiveInfinity, false)));
        foreach (var c in new[] { shared, counted })
        {
            c.Update("x", x);
            c.Update("m", x);
        }
        Tables.AssertSame(counted.ComputeRanges(), shared.ComputeRanges());
    }

    [Fact]
    public void Zeros_only_then_values_follow_exactly()
    {
        // All-negative x: ReLU is all zeros (no width yet), then positive values give it one.
        var neg = Enumerable.Range(0, 20_000).Select(i => -1f - i % 7).ToArray();
        var zeros = new float[20_000];
        var mixed = Synthetic.Gaussian(20_000, 1, seed: 4);
        AssertFollowingMatchesCounting(new[] { zeros, neg, mixed, neg }, ("relu", 0, float.PositiveInfinity, true), ("relu6", 0, 6, true));
    }

    [Fact]
    public void A_relu_that_was_all_zeros_and_turns_small_counts_itself()
    {
        var neg = Enumerable.Range(0, 20_000).Select(i => -1f - i % 100).ToArray();
        var tiny = Enumerable.Range(0, 20_000).Select(i => i % 2 == 0 ? -1f - i % 100 : 0.001f * (i % 5)).ToArray();
        AssertFollowingMatchesCounting(new[] { neg, tiny, neg }, ("relu", 0, float.PositiveInfinity, true));
    }

    [Fact]
    public void Followers_merge_like_everything_counted()
    {
        var x = Synthetic.Gaussian(200_000, 4, seed: 5);
        var halves = Synthetic.Batches(x, 100_000).ToArray();
        HistogramCalibrator Half(float[] part, bool follow)
        {
            var c = Entropy();
            if (follow) c.Follow(new ClampFollowers.Follower("relu6", "x", 0, 6, true));
            c.Update("x", part);
            c.Update("relu6", Clamp(part, 0, 6));
            return c;
        }
        var merged = Half(halves[0], true);
        merged.Merge(Half(halves[1], true));
        var whole = Entropy();
        foreach (var part in halves) { whole.Update("x", part); whole.Update("relu6", Clamp(part, 0, 6)); }
        Tables.AssertSame(whole.ComputeRanges(), merged.ComputeRanges());
    }

    [Fact]
    public void Percentile_histograms_do_not_follow()
    {
        var p = (HistogramCalibrator)Calibrator.Create(new CalibrationSettings { Method = CalibrationMethod.Percentile });
        Assert.False(p.Follow(new ClampFollowers.Follower("relu", "x", 0, float.PositiveInfinity, true)));
        var e = Entropy();
        e.Update("x", new[] { 1f });
        Assert.False(e.Follow(new ClampFollowers.Follower("relu", "x", 0, float.PositiveInfinity, true))); // too late: x has values
    }

    [Fact]
    public void Fashion_cnn_plans_its_relu6_outputs_and_the_flatten()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.FashionCnn));
        var selection = new CalibrationTensorSelector().Select(model);
        var plan = ClampFollowers.Plan(model, selection.Tensors);
        var clips = model.Graph.Nodes.Where(n => n.OpType == "Clip").ToList();
        Assert.Equal(clips.Count + 1, plan.Count);
        foreach (var n in clips)
            Assert.Contains(new ClampFollowers.Follower(n.Output[0], n.Input[0], 0, 6, true), plan);
        Assert.Contains(new ClampFollowers.Follower("/flatten/Flatten_output_0", "/pool/GlobalAveragePool_output_0",
            float.NegativeInfinity, float.PositiveInfinity, false), plan);
    }

    [Fact]
    public void A_relu_of_the_model_input_counts_its_own_values()
    {
        // input -> Relu -> Clip(0, 6): the Relu follows the input, which is read from the batch, not fetched
        // with it, so it counts itself; the Clip follows the Relu's values (a fetched source).
        var g = new GraphProto { Name = "relu-of-input" };
        g.Input.Add(TinyModels.Float("x", 0, 64));
        g.Output.Add(TinyModels.Float("y", 0, 64));
        g.Node.Add(TinyModels.Node("Relu", new[] { "x" }, new[] { "r" }, "relu"));
        g.Node.Add(TinyModels.Constant("lo", Array.Empty<long>(), new[] { 0f }));
        g.Node.Add(TinyModels.Constant("hi", Array.Empty<long>(), new[] { 6f }));
        g.Node.Add(TinyModels.Node("Clip", new[] { "r", "lo", "hi" }, new[] { "c" }, "clip"));
        g.Node.Add(TinyModels.Node("Mul", new[] { "c", "c" }, new[] { "y" }, "mul"));
        var model = TinyModels.Model(g);
        var x = Synthetic.Gaussian(64 * 40, 4, seed: 6);
        var items = new object[] { new NamedTensor("x", x, new long[] { 40, 64 }, "gaussian") };
        var o = new CalibrationOptions { Method = CalibrationMethod.Entropy, Bins = 2048, BatchSize = 8 };
        using var run = new CalibrationRun(model, o);
        Assert.Equal(1, run.SharedHistograms); // the Clip; not the Relu of the input
        foreach (var item in items) run.Add(item);
        var shared = run.Complete();
        var counted = Calibrator.Run(model, items, o with { ShareClampedHistograms = false });
        Tables.AssertSame(counted.Ranges, shared.Ranges);
        Assert.Equal(40 * 64, shared["r"]!.ElementCount);
    }

    [Fact]
    public void Followers_computed_from_their_source_match_onnx_runtime_on_special_values()
    {
        // A follower that counts its own values computes them from its source's: the clamp with NaN kept NaN.
        // That must be what the runtime's Relu and Clip give, in its vector body and its scalar tail alike.
        var g = new GraphProto { Name = "clamps" };
        g.Input.Add(TinyModels.Float("x", 0));
        g.Output.Add(TinyModels.Float("r", 0));
        g.Output.Add(TinyModels.Float("c", 0));
        g.Node.Add(TinyModels.Node("Relu", new[] { "x" }, new[] { "r" }, "relu"));
        g.Node.Add(TinyModels.Constant("lo", Array.Empty<long>(), new[] { -1f }));
        g.Node.Add(TinyModels.Constant("hi", Array.Empty<long>(), new[] { 2f }));
        g.Node.Add(TinyModels.Node("Clip", new[] { "x", "lo", "hi" }, new[] { "c" }, "clip"));
        var model = TinyModels.Model(g);
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(model.ToBytes());
        var special = new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f, 0f, -3.5f, 1.25f, 7f, float.MaxValue, -float.Epsilon };
        var r = new Random(7);
        foreach (int n in new[] { 1, 3, 8, 15, 16, 17, 31, 64, 67, 1000 })
        {
            var x = Enumerable.Range(0, n).Select(_ => special[r.Next(special.Length)]).ToArray();
            using var input = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(x, new long[] { n });
            using var ro = new Microsoft.ML.OnnxRuntime.RunOptions();
            using var outputs = session.Run(ro, new[] { "x" }, new[] { input }, new[] { "r", "c" });
            foreach (var (k, lo, hi) in new[] { (0, 0f, float.PositiveInfinity), (1, -1f, 2f) })
            {
                var ort = outputs[k].GetTensorDataAsSpan<float>().ToArray();
                var ours = new float[n];
                System.Numerics.Tensors.TensorPrimitives.Max(x, lo, ours);
                System.Numerics.Tensors.TensorPrimitives.Min(ours, hi, ours);
                for (int i = 0; i < n; i++)
                    Assert.True(ours[i] == ort[i] || float.IsNaN(ours[i]) && float.IsNaN(ort[i]), $"n={n}, x={x[i]}: ORT {ort[i]}, ours {ours[i]}");
            }
        }
    }

    public static TheoryData<string, int> Models() => new() { { TestData.FashionCnn, 64 }, { TestData.OcrRec, 4 }, { TestData.OcrDet, 2 } };

    [Theory]
    [Trait("Category", "TestData")]
    [MemberData(nameof(Models))]
    public void Real_models_give_the_same_table_shared_or_counted(string path, int batch)
    {
        var model = OnnxModel.Load(TestData.Require(path));
        object[] items = path == TestData.FashionCnn
            ? new object[] { TestData.Require(TestData.FashionCalib) }
            : new object[] { Inputs(model, 2 * batch + 1) };
        var o = new CalibrationOptions { Method = CalibrationMethod.Entropy, Bins = 2048, BatchSize = batch };
        var counted = Calibrator.Run(model, items, o with { ShareClampedHistograms = false });
        var shared = Calibrator.Run(model, items, o);
        Tables.AssertSame(counted.Ranges, shared.Ranges);
        if (path != TestData.FashionCnn) Assert.NotEmpty(ClampFollowers.Plan(model, counted.Ranges.Select(r => r.Tensor).ToList()));
    }

    // Image-like rows for the OCR models: smooth patterns in [-1, 1], the models' normalised range.
    private static NamedTensor Inputs(OnnxModel model, int rows)
    {
        var (h, w) = model.Inputs[0].Name == "x" && model.Path!.Contains("rec") ? (48, 160) : (96, 96);
        var r = new Random(rows);
        var x = new float[rows * 3 * h * w];
        for (int i = 0; i < x.Length; i++) x[i] = (float)Math.Sin(i * 0.013 + r.NextDouble() * 0.5) * 0.9f;
        return new NamedTensor(model.Inputs[0].Name, x, new long[] { rows, 3, h, w }, "pattern");
    }
}
