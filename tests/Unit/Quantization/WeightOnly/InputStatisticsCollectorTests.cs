using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Quantization.WeightOnly;
using EvoQuant.Tests.Quantization.Helpers;
using EvoQuant.Tests.Support;
using EvoQuant.Text;
using Xunit;

namespace EvoQuant.Tests.Quantization.WeightOnly;

public class InputStatisticsCollectorTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int S = 3, K = 8, H = 6, P = 5, K2 = 7, G = 4;

    // x [N, 3, 8] -> MatMul W1 [8, 6] -> Relu -> MatMul W2 [6, 5];  x -> MatMul W3 [8, 4] (shares x);
    // x2 [N, 7] -> Relu -> Gemm with W4 [4, 7] transB; plus an activation x activation MatMul, which has no weight.
    private static OnnxModel Model()
    {
        var g = new GraphProto { Name = "two-paths" };
        g.Input.Add(TinyModels.Float("x", 0, S, K));
        g.Input.Add(TinyModels.Float("x2", 0, K2));
        g.Initializer.Add(TensorData.FromFloats("W1", new long[] { K, H }, TinyModels.Random(K * H, 1)));
        g.Initializer.Add(TensorData.FromFloats("W2", new long[] { H, P }, TinyModels.Random(H * P, 2)));
        g.Initializer.Add(TensorData.FromFloats("W3", new long[] { K, 4 }, TinyModels.Random(K * 4, 3)));
        g.Initializer.Add(TensorData.FromFloats("W4", new long[] { G, K2 }, TinyModels.Random(G * K2, 4)));
        g.Node.Add(TinyModels.Node("MatMul", new[] { "x", "W1" }, new[] { "h" }, "mm1"));
        g.Node.Add(TinyModels.Node("Relu", new[] { "h" }, new[] { "r" }, "relu"));
        g.Node.Add(TinyModels.Node("MatMul", new[] { "r", "W2" }, new[] { "y" }, "mm2"));
        g.Node.Add(TinyModels.Node("MatMul", new[] { "x", "W3" }, new[] { "z" }, "mm3"));
        g.Node.Add(TinyModels.Node("Relu", new[] { "x2" }, new[] { "r2" }, "relu2"));
        g.Node.Add(TinyModels.Node("Gemm", new[] { "r2", "W4" }, new[] { "q" }, "gemm", TinyModels.Int("transB", 1)));
        g.Node.Add(TinyModels.Node("Transpose", new[] { "z" }, new[] { "zt" }, "tr", new AttributeProto { Name = "perm", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 0, 2, 1 } }));
        g.Node.Add(TinyModels.Node("MatMul", new[] { "z", "zt" }, new[] { "zz" }, "mmAct"));
        g.Output.Add(TinyModels.Float("y", 0, S, P));
        g.Output.Add(TinyModels.Float("q", 0, G));
        g.Output.Add(TinyModels.Float("zz", 0, S, S));
        return TinyModels.Model(g);
    }

    private static double[] Gram(float[] rows, int k)
    {
        var gram = new double[k * k];
        for (int r = 0; r < rows.Length / k; r++)
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++) gram[i * k + j] += (double)rows[r * k + i] * rows[r * k + j];
        return gram;
    }

    private static float[] Relu(float[] x) => x.Select(v => Math.Max(v, 0f)).ToArray();

    private static float[] MatMul(float[] x, float[] w, int k, int n)
    {
        var y = new float[x.Length / k * n];
        for (int r = 0; r < x.Length / k; r++)
            for (int c = 0; c < n; c++)
            {
                double s = 0;
                for (int i = 0; i < k; i++) s += (double)x[r * k + i] * w[i * n + c];
                y[r * n + c] = (float)s;
            }
        return y;
    }

    private static void AssertGram(double[] expected, InputStatistics actual)
    {
        double scale = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual.Gram[i]) <= 1e-5 * scale, $"Gram[{i}]: {actual.Gram[i]} vs {expected[i]}");
    }

    [Theory]
    [InlineData(64, long.MaxValue)]
    [InlineData(4, long.MaxValue)]
    [InlineData(64, 200L)] // a budget of a few rows: batches are cut into sub-batches
    public void TheCollectedGramsAreXTransposeXOfEachWeightsInput(int batchSize, long budget)
    {
        var model = Model();
        int[] rows = { 5, 1, 7, 3 };
        var x = TinyModels.Random(rows.Sum() * S * K, 10, 2f);
        var x2 = TinyModels.Random(rows.Sum() * K2, 11, 2f);
        var items = new List<object>();
        int at = 0;
        foreach (int n in rows)
        {
            items.Add(new Sample(new[]
            {
                new NamedTensor("x", x[(at * S * K)..((at + n) * S * K)], new long[] { n, S, K }),
                new NamedTensor("x2", x2[(at * K2)..((at + n) * K2)], new long[] { n, K2 }),
            }, $"sample {at}"));
            at += n;
        }

        using var collector = new InputStatisticsCollector(model, QuantizationOptions.ForWeightOnly(), new CalibrationOptions { BatchSize = batchSize, MaxBatchOutputBytes = budget });
        // Once per tensor: mm3 shares mm1's input x.
        Assert.Equal(new[] { "r", "r2", "x" }, collector.Inputs.Select(i => i.Activation).OrderBy(s => s, StringComparer.Ordinal));
        Assert.Equal(K2, collector.Inputs.Single(i => i.Activation == "r2").Channels); // Gemm transB: K is W4's second dim
        foreach (var item in items) Assert.True(collector.Add(item));
        var stats = collector.Complete();

        Assert.Equal(new[] { "r", "r2", "x" }, stats.Keys.OrderBy(s => s, StringComparer.Ordinal));
        var r = Relu(MatMul(x, TinyModels.Random(K * H, 1), K, H));
        AssertGram(Gram(x, K), stats["x"]);
        AssertGram(Gram(r, H), stats["r"]);
        AssertGram(Gram(Relu(x2), K2), stats["r2"]);
        Assert.Equal(rows.Sum() * S, stats["x"].RowCount);
        Assert.Equal(rows.Sum() * S, stats["r"].RowCount);
        Assert.Equal(rows.Sum(), stats["r2"].RowCount);
        Assert.Equal(Relu(x2).Where((_, i) => i % K2 == 0).Sum(v => (double)v), stats["r2"].AbsSum[0], 4);
        Assert.Equal(rows.Sum(), collector.SamplesDone);
    }

    // x [N, 3, 8] -> MatMul W1 -> Relu -> MatMul W2, with an attention_mask [N, 3] beside it (1 = token, 0 = padding).
    private static OnnxModel MaskedModel()
    {
        var g = new GraphProto { Name = "masked" };
        g.Input.Add(TinyModels.Float("x", 0, S, K));
        g.Input.Add(new ValueInfoProto { Name = "attention_mask", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = ElementTypes.Int64, Shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimParam = "N" }, new TensorShapeProto.Types.Dimension { DimValue = S } } } } } });
        g.Initializer.Add(TensorData.FromFloats("W1", new long[] { K, H }, TinyModels.Random(K * H, 1)));
        g.Initializer.Add(TensorData.FromFloats("W2", new long[] { H, P }, TinyModels.Random(H * P, 2)));
        g.Node.Add(TinyModels.Node("MatMul", new[] { "x", "W1" }, new[] { "h" }, "mm1"));
        g.Node.Add(TinyModels.Node("Relu", new[] { "h" }, new[] { "r" }, "relu"));
        g.Node.Add(TinyModels.Node("MatMul", new[] { "r", "W2" }, new[] { "y" }, "mm2"));
        g.Output.Add(TinyModels.Float("y", 0, S, P));
        return TinyModels.Model(g);
    }

    [Theory]
    [InlineData(64, long.MaxValue)]
    [InlineData(3, long.MaxValue)]
    [InlineData(64, 200L)] // sub-batches: each gets its own rows of the mask
    public void PaddedPositionsAreLeftOutOfTheStatistics(int batchSize, long budget)
    {
        var model = MaskedModel();
        int n = 7;
        var x = TinyModels.Random(n * S * K, 12, 2f);
        // Sentences of 3, 1, 2, 3, 2, 1, 3 tokens, padded to 3.
        int[] lengths = { 3, 1, 2, 3, 2, 1, 3 };
        var mask = new long[n * S];
        for (int i = 0; i < n; i++) for (int j = 0; j < lengths[i]; j++) mask[i * S + j] = 1;
        var items = Enumerable.Range(0, n).Select(i => (object)new Sample(new[]
        {
            new NamedTensor("x", x[(i * S * K)..((i + 1) * S * K)], new long[] { 1, S, K }),
            new NamedTensor("attention_mask", mask[(i * S)..((i + 1) * S)], new long[] { 1, S }),
        }, $"sentence {i}")).ToList();

        using var collector = new InputStatisticsCollector(model, QuantizationOptions.ForWeightOnly(), new CalibrationOptions { BatchSize = batchSize, MaxBatchOutputBytes = budget });
        Assert.Equal("attention_mask", collector.PaddingMaskInput);
        foreach (var item in items) Assert.True(collector.Add(item));
        var stats = collector.Complete();

        var tokens = Enumerable.Range(0, n * S).Where(p => mask[p] != 0).ToArray();
        float[] Rows(float[] all, int k) => tokens.SelectMany(p => all.Skip(p * k).Take(k)).ToArray();
        var r = Relu(MatMul(x, TinyModels.Random(K * H, 1), K, H));
        AssertGram(Gram(Rows(x, K), K), stats["x"]);
        AssertGram(Gram(Rows(r, H), H), stats["r"]);
        Assert.Equal(tokens.Length, stats["x"].RowCount);
        Assert.Equal(tokens.Length, stats["r"].RowCount);
        Assert.Equal(n * S - tokens.Length, collector.PaddedPositions);
    }

    [Fact]
    public void WithoutAMaskEveryPositionCounts()
    {
        using var collector = new InputStatisticsCollector(Model(), QuantizationOptions.ForWeightOnly());
        Assert.Null(collector.PaddingMaskInput);
        Assert.Equal(0, collector.PaddedPositions);
    }

    [Fact]
    public void TheQuantizationNodeFiltersChooseTheInputs()
    {
        var options = QuantizationOptions.ForWeightOnly() with { IncludeNodes = new[] { "mm*" }, ExcludeNodes = new[] { "mm1" } };
        using var collector = new InputStatisticsCollector(Model(), options);
        Assert.Equal(new[] { "mm2", "mm3" }, collector.Inputs.Select(i => i.Node));
        Assert.Equal(new[] { "r", "x" }, collector.Inputs.Select(i => i.Activation));
    }

    [Fact]
    public void AModelWithoutWeightsIsRefused()
    {
        var g = new GraphProto { Name = "relu" };
        g.Input.Add(TinyModels.Float("x", 0, 4));
        g.Node.Add(TinyModels.Node("Relu", new[] { "x" }, new[] { "y" }, "relu"));
        g.Output.Add(TinyModels.Float("y", 0, 4));
        Assert.Throws<InvalidOperationException>(() => new InputStatisticsCollector(TinyModels.Model(g), QuantizationOptions.ForWeightOnly()));
    }

    [Fact]
    [Trait("Category", "TestData")]
    public void MiniLmStatisticsFeedGptqOnAFewSentences()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.MiniLm));
        var sentences = SentenceCorpus.Load(TestData.Require(TestData.Fortunes)).Split(seed: 19, 12)[0];
        var encoder = new BertTextEncoder(TestData.Require(TestData.MiniLmVocab), maxLength: 64);
        var samples = encoder.EncodeBatches(sentences, 4).ToList();
        long positions = samples.Sum(s => s.Tensors[0].ElementCount);
        // Padded positions (attention_mask 0) are left out: the rows are the sentences' real tokens.
        long tokens = samples.Sum(s => s.Tensors.Single(t => t.Name == "attention_mask").ToFloatArray().Count(v => v != 0));
        Assert.True(tokens < positions, "the sentences are padded to the longest of each batch");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var options = QuantizationOptions.ForWeightOnly();
        var stats = InputStatisticsCollector.Collect(model, options, samples, new CalibrationOptions { BatchSize = 4 });
        output.WriteLine($"collected in {clock.Elapsed.TotalSeconds:f1} s, {tokens} tokens");
        var inputs = WeightOnlyPlanner.InputsNeedingStatistics(model, options);
        // Six layers of 4 distinct inputs (Q/K/V's shared one, attention output, FFN up, FFN down), and the pooler's.
        Assert.True(inputs.Count >= 24, $"{inputs.Count} weight MatMul inputs");
        Assert.All(inputs, i => Assert.True(stats.ContainsKey(i.Activation), $"no statistics for {i.Node}'s input {i.Activation}"));
        foreach (var s in stats.Values)
        {
            // Token rows ([B, S, 384] flattened), or sentence rows for the pooler's Gemm on [CLS].
            Assert.True(s.RowCount == tokens || s.RowCount == sentences.Count, $"{s.RowCount} rows");
            for (int i = 0; i < s.Channels; i++) Assert.True(s.Gram[i * s.Channels + i] >= 0);
            Assert.Equal(s.Gram[1], s.Gram[s.Channels]); // symmetric
        }

        // On real activations GPTQ beats round-to-nearest on the calibration inputs' outputs.
        var wide = inputs.First(i => i.Channels == 384 && i.OpType == "MatMul");
        var w = model.GetFloats(model.Graph.GetConstant(wide.Weight)!);
        int n = w.Length / wide.Channels;
        var spec = new BlockQuantizationSpec(4, 32, true);
        var s0 = stats[wide.Activation];
        var (rtn, _) = OutputError.Measure(s0, w, RoundToNearestMethod.Instance.Quantize(w, wide.Channels, n, spec, null));
        var (gptq, _) = OutputError.Measure(s0, w, GptqMethod.Default.Quantize(w, wide.Channels, n, spec, s0));
        Assert.True(gptq < rtn, $"{wide.Node}: GPTQ {gptq:g4} vs RTN {rtn:g4}");
    }

    [Fact]
    public void SelectedRowsAddAsTheirCopyWould()
    {
        // Over two chunks of the transposition (256 rows), every third row left out, as padding is.
        const int k = 5, rows = 600;
        var x = TinyModels.Random(rows * k, 9);
        var selected = Enumerable.Range(0, rows).Where(r => r % 3 != 1).ToArray();
        var copy = selected.SelectMany(r => x.Skip(r * k).Take(k)).ToArray();
        var inPlace = new InputStatistics(k);
        inPlace.Accumulate(x, rows, selected);
        var copied = new InputStatistics(k);
        copied.Accumulate(copy, selected.Length);
        Assert.Equal(copied.Gram, inPlace.Gram);
        Assert.Equal(copied.AbsSum, inPlace.AbsSum);
        Assert.Equal(selected.Length, inPlace.RowCount);
    }
}
