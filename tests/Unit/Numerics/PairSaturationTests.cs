using EvoQuant.Numerics;
using EvoQuant.Quantization;
using Xunit;

namespace EvoQuant.Tests.Numerics;

/// <summary>Pair-safe weights: the pairs each kernel layout sums, and that no quantized pair can
/// saturate a 16-bit sum (|q0 + q1| &lt;= 128 for same-signed pairs) while the scale stays as small as
/// that allows.</summary>
public class PairSaturationTests
{
    [Fact]
    public void ColumnsPairAdjacentRowsOfEachColumn()
    {
        // B [K=3, N=2]: column 0 = (0.5, 0.25, -1), column 1 = (-0.75, -0.5, 0.1); K is odd, so the last
        // element of each column is paired with the kernel's zero padding.
        float[] b = { 0.5f, -0.75f, 0.25f, -0.5f, -1f, 0.1f };
        var sums = PairSaturation.LargestPairSums(b, new long[] { 3, 2 }, ReductionLayout.ColumnsOf(2));
        Assert.Equal(new[] { 1.0, 1.25 }, sums);
    }

    [Fact]
    public void OppositeSignsInAPairDoNotAddUp()
    {
        float[] w = { 1f, -1f, 0.25f, 0.5f }; // rows of [N=1, K=4]: pairs (1,-1) and (0.25,0.5)
        var sums = PairSaturation.LargestPairSums(w, new long[] { 1, 4 }, ReductionLayout.RowsOf(2));
        Assert.Equal(new[] { 1.0 }, sums);
    }

    [Fact]
    public void ChannelsLastConvPairsInputChannelsAtOneKernelPosition()
    {
        // W [M=1, C=2, 1, 2]: channels-last order is (kw0: c0, c1), (kw1: c0, c1).
        float[] w = { 1f, 0f, 1f, 0f }; // c0 = (1, 0), c1 = (1, 0)
        var last = PairSaturation.LargestPairSums(w, new long[] { 1, 2, 1, 2 }, ReductionLayout.ConvChannelsLast(4));
        Assert.Equal(new[] { 2.0 }, last); // (c0, c1) at kw0 = (1, 1)
        var first = PairSaturation.LargestPairSums(w, new long[] { 1, 2, 1, 2 }, ReductionLayout.ConvChannelsFirst(4));
        Assert.Equal(new[] { 1.0 }, first); // (kw0, kw1) of each channel = (1, 0)
    }

    public static TheoryData<string, long[], int?> Layouts => new()
    {
        { "matmul", new long[] { 67, 33 }, 1 },
        { "matmul-per-tensor", new long[] { 64, 16 }, null },
        { "gemm-transB", new long[] { 10, 65 }, 0 },
        { "conv", new long[] { 8, 5, 3, 3 }, 0 },
        { "conv-stem", new long[] { 16, 1, 3, 3 }, 0 },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void PairSafeWeightsNeverExceedTheSafePairSum(string kind, long[] dims, int? axis)
    {
        var layout = LayoutOf(kind);
        var rng = new Random(kind.Length * 31 + dims.Length);
        int n = (int)dims.Aggregate(1L, (a, d) => a * d);
        // Heavy-tailed weights with runs of same-signed large values: the worst case for pairs.
        var w = Enumerable.Range(0, n).Select(i => (float)(Math.Pow(rng.NextDouble(), 3) * (i % 7 < 4 ? 1 : -1))).ToArray();

        var plain = WeightQuantizer.Quantize(w, dims, QuantType.Int8, symmetric: true, reduceRange: false, axis);
        var safe = WeightQuantizer.Quantize(w, dims, QuantType.Int8, symmetric: true, reduceRange: false, axis, pairSafe: layout);

        var q = safe.Raw.Select(b => (int)(sbyte)b).ToArray();
        Assert.All(q, v => Assert.InRange(v, -127, 127));
        Assert.InRange(PairSaturation.LargestQuantizedPairSum(q, dims, layout), 0, PairSaturation.MaxSafePairSum);
        var plainQ = plain.Raw.Select(b => (int)(sbyte)b).ToArray();
        Assert.True(PairSaturation.LargestQuantizedPairSum(plainQ, dims, layout) > PairSaturation.MaxSafePairSum,
            "the data must make full-range weights unsafe, or the test proves nothing");
        // The scale grows only as far as the pairs need: at most twice the full-range scale (two equal
        // largest weights side by side), never less than it.
        for (int c = 0; c < safe.Params.Length; c++)
        {
            Assert.InRange(safe.Params[c].Scale, plain.Params[c].Scale, plain.Params[c].Scale * 2.0001f);
            Assert.Equal(0, safe.Params[c].ZeroPoint);
        }
        Assert.True(safe.PairSafeChanges > 0);
    }

    /// <summary>Pair-safe weights are never further from the float weights than 7-bit weights (reduce
    /// range) on data whose largest pair is not two equal largest weights, and per tensor they are exactly
    /// the weights of the widest pair's range.</summary>
    [Theory]
    [MemberData(nameof(Layouts))]
    public void PairSafeWeightsCostNoMoreThanSevenBits(string kind, long[] dims, int? axis)
    {
        var layout = LayoutOf(kind);
        var rng = new Random(kind.Length * 7 + 3);
        int n = (int)dims.Aggregate(1L, (a, d) => a * d);
        var w = Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() - 0.45) * (rng.NextDouble() < 0.02 ? 4 : 1))).ToArray();

        double Error(QuantizedTensor t)
        {
            double e = 0;
            for (int i = 0; i < n; i++)
            {
                int c = axis == null ? 0 : (int)(i / Inner(dims, axis.Value) % dims[axis.Value]);
                double d = (sbyte)t.Raw[i] * (double)t.Params[c].Scale - w[i];
                e += d * d;
            }
            return e;
        }
        var safe = WeightQuantizer.Quantize(w, dims, QuantType.Int8, true, false, axis, pairSafe: layout);
        var seven = WeightQuantizer.Quantize(w, dims, QuantType.Int8, true, reduceRange: true, axis);
        var sums = PairSaturation.LargestPairSums(w, dims, layout);
        var widest = WeightQuantizer.Quantize(w, dims, QuantType.Int8, true, false, axis,
            new TensorOverride { RangeMin = -(float)sums.Max(), RangeMax = (float)sums.Max() });
        Assert.InRange(PairSaturation.LargestQuantizedPairSum(safe.Raw.Select(b => (int)(sbyte)b).ToArray(), dims, layout), 0, PairSaturation.MaxSafePairSum);
        Assert.True(Error(safe) <= Error(seven), $"pair-safe {Error(safe):G4} vs 7-bit {Error(seven):G4}");
        if (axis == null) Assert.True(Error(safe) <= Error(widest) * 1.0001, $"pair-safe {Error(safe):G4} vs widest {Error(widest):G4}");
    }

    private static ReductionLayout LayoutOf(string kind) => kind switch
    {
        "gemm-transB" => ReductionLayout.RowsOf(2),
        "conv" or "conv-stem" => ReductionLayout.ConvChannelsLast(4),
        _ => ReductionLayout.ColumnsOf(2),
    };

    private static long Inner(long[] dims, int axis)
    {
        long inner = 1;
        for (int d = axis + 1; d < dims.Length; d++) inner *= dims[d];
        return inner;
    }

    [Theory]
    [InlineData(100.2, 60.4, 84, 44)]   // sum 160.6: 32.6 over, half off each
    [InlineData(-127, -127, -64, -64)]
    [InlineData(127, 1.4, 127, 1)]      // 128: safe as it is
    [InlineData(127, -127, 127, -127)]  // opposite signs never saturate
    [InlineData(126.9, 20, 117, 11)]    // 146.9 over by 18.9: 117.45 -> 117, the rest to b
    public void SafePairMovesBothBackByHalfTheExcess(double va, double vb, int qa, int qb)
    {
        Assert.Equal((qa, qb), PairSaturation.SafePair(va, vb));
    }

    [Fact]
    public void AsymmetricOrUInt8WeightsAreLeftAsTheyAre()
    {
        var w = new float[] { 1f, 1f, 1f, 1f };
        var u8 = WeightQuantizer.Quantize(w, new long[] { 2, 2 }, QuantType.UInt8, symmetric: false, reduceRange: false, null, pairSafe: ReductionLayout.ColumnsOf(2));
        Assert.Equal(0, u8.PairSafeChanges);
    }

    [Fact]
    public void AWeightReadInSeveralLayoutsFallsBackToSevenBits()
    {
        var w = new float[] { 1f, 0.5f, -0.25f, 1f };
        var t = WeightQuantizer.Quantize(w, new long[] { 2, 2 }, QuantType.Int8, symmetric: true, reduceRange: false, null, pairSafe: ReductionLayout.Mixed);
        Assert.Equal(64, t.Raw.Select(b => Math.Abs((int)(sbyte)b)).Max());
    }
}
