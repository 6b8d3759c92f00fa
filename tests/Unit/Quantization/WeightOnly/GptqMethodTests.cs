using EvoQuant.Quantization.WeightOnly;
using Xunit;
using Xunit.Abstractions;
using static EvoQuant.Tests.Quantization.WeightOnly.WeightOnlySynthetic;

namespace EvoQuant.Tests.Quantization.WeightOnly;

/// <summary>GPTQ against round-to-nearest on correlated synthetic inputs, its degenerate cases and its invariants.</summary>
public class GptqMethodTests(ITestOutputHelper output)
{
    private const int K = 128, N = 48, Rows = 1024;

    [Theory]
    [InlineData(4, 32, true)]
    [InlineData(4, 32, false)]
    [InlineData(8, 32, true)]
    [InlineData(8, 64, false)]
    [InlineData(4, 128, true)]
    public void GptqLowersTheOutputErrorBelowRoundToNearest(int bits, int blockSize, bool symmetric)
    {
        var spec = new BlockQuantizationSpec(bits, blockSize, symmetric);
        var x = CorrelatedInputs(Rows, K, latent: 12, seed: 1);
        var w = Weights(K, N, seed: 2);
        var stats = Statistics(x, K);

        var (rtn, signal) = OutputError.Measure(stats, w, RoundToNearestMethod.Instance.Quantize(w, K, N, spec, null));
        var (gptq, _) = OutputError.Measure(stats, w, GptqMethod.Default.Quantize(w, K, N, spec, stats));
        var (actOrder, _) = OutputError.Measure(stats, w, new GptqMethod { ActOrder = true }.Quantize(w, K, N, spec, stats));

        output.WriteLine($"{spec}: error / signal RTN {rtn / signal:g4}, GPTQ {gptq / signal:g4}, act-order {actOrder / signal:g4}");
        Assert.True(rtn > 0 && signal > rtn);
        // Correlated inputs let the error of one channel be absorbed by the others: well under RTN's.
        Assert.True(gptq < 0.7 * rtn, $"GPTQ {gptq:g4} vs RTN {rtn:g4} (signal {signal:g4})");
        Assert.True(actOrder < 0.7 * rtn, $"GPTQ act-order {actOrder:g4} vs RTN {rtn:g4}");
    }

    [Theory]
    [InlineData(4, 32, true)]
    [InlineData(4, 16, false)]
    [InlineData(8, 64, true)]
    public void WithAnIdentityHessianGptqIsRoundToNearest(int bits, int blockSize, bool symmetric)
    {
        var spec = new BlockQuantizationSpec(bits, blockSize, symmetric);
        var w = Weights(K, N, seed: 3);
        var identity = new float[K * K];
        for (int i = 0; i < K; i++) identity[i * K + i] = 3;   // X = 3I: H = 9I, uncorrelated inputs
        var stats = Statistics(identity, K);

        var rtn = RoundToNearestMethod.Instance.Quantize(w, K, N, spec, null);
        var gptq = GptqMethod.Default.Quantize(w, K, N, spec, stats);
        Assert.Equal(rtn.PackedCodes, gptq.PackedCodes);
        Assert.Equal(rtn.Scales, gptq.Scales);
        Assert.Equal(rtn.ZeroPoints, gptq.ZeroPoints);
    }

    [Fact]
    public void WithoutAnyCalibrationRowGptqIsRoundToNearest()
    {
        var spec = new BlockQuantizationSpec(4, 32, false);
        var w = Weights(K, N, seed: 4);
        var gptq = GptqMethod.Default.Quantize(w, K, N, spec, new InputStatistics(K));
        Assert.Equal(RoundToNearestMethod.Instance.Quantize(w, K, N, spec, null).PackedCodes, gptq.PackedCodes);
    }

    [Fact]
    public void DeadInputsAreRoundedAsTheyAreAndTheRestStillGains()
    {
        var spec = new BlockQuantizationSpec(4, 32, true);
        var x = CorrelatedInputs(Rows, K, latent: 12, seed: 5);
        int[] dead = { 0, 33, 64, 127 };
        for (int row = 0; row < Rows; row++) foreach (int d in dead) x[row * K + d] = 0;
        var w = Weights(K, N, seed: 6);
        var stats = Statistics(x, K);

        var q = GptqMethod.Default.Quantize(w, K, N, spec, stats);
        foreach (int d in dead)
            for (int c = 0; c < N; c++)
            {
                int block = c * q.BlocksPerColumn + d / spec.BlockSize;
                // No error reaches a dead row: its code is its own weight's, at its block's scale.
                Assert.Equal(BlockScales.Code(w[d * N + c], q.Scales[block], q.ZeroPoints[block], spec.MaxCode), q.Code(d, c));
            }
        Assert.All(q.Dequantize(), v => Assert.True(float.IsFinite(v)));
        var (rtn, _) = OutputError.Measure(stats, w, RoundToNearestMethod.Instance.Quantize(w, K, N, spec, null));
        var (gptq, _) = OutputError.Measure(stats, w, q);
        Assert.True(gptq < 0.7 * rtn, $"GPTQ {gptq:g4} vs RTN {rtn:g4}");
    }

    [Theory]
    [InlineData(4, true, false)]
    [InlineData(4, false, true)]
    [InlineData(8, false, false)]
    public void CodesStayInRangeAndRunsRepeat(int bits, bool symmetric, bool actOrder)
    {
        // K not a multiple of the block size: the last block is short.
        const int k = 100, n = 24;
        var spec = new BlockQuantizationSpec(bits, 32, symmetric);
        var stats = Statistics(CorrelatedInputs(300, k, latent: 6, seed: 7), k);
        var w = Weights(k, n, seed: 8);
        var method = new GptqMethod { ActOrder = actOrder, LazyBatchSize = 32 };
        var a = method.Quantize(w, k, n, spec, stats);
        var b = method.Quantize(w, k, n, spec, stats);
        Assert.All(a.UnpackCodes(), c => Assert.InRange(c, 0, spec.MaxCode));
        Assert.All(a.Scales, s => Assert.True(s > 0 && float.IsFinite(s)));
        if (symmetric) Assert.All(a.ZeroPoints, z => Assert.Equal(spec.SymmetricZeroPoint, z));
        Assert.Equal(a.PackedCodes, b.PackedCodes);
        Assert.Equal(a.Scales, b.Scales);
        Assert.Equal(a.ZeroPoints, b.ZeroPoints);
    }

    [Fact]
    public void TheLazyBatchSizeDoesNotChangeTheResultBeyondRounding()
    {
        var spec = new BlockQuantizationSpec(4, 16, false);
        var stats = Statistics(CorrelatedInputs(512, K, latent: 10, seed: 9), K);
        var w = Weights(K, N, seed: 10);
        var (small, _) = OutputError.Measure(stats, w, new GptqMethod { LazyBatchSize = 16 }.Quantize(w, K, N, spec, stats));
        var (large, _) = OutputError.Measure(stats, w, new GptqMethod { LazyBatchSize = 128 }.Quantize(w, K, N, spec, stats));
        // Same arithmetic in another order: codes may flip at exact ties only, the error barely moves.
        Assert.InRange(large / small, 0.99, 1.01);
    }

    [Fact]
    public void StatisticsOfAnotherWidthAreRefused()
    {
        var spec = new BlockQuantizationSpec();
        var w = Weights(K, N, seed: 11);
        Assert.Throws<ArgumentException>(() => GptqMethod.Default.Quantize(w, K, N, spec, new InputStatistics(K + 1)));
        Assert.Throws<ArgumentNullException>(() => GptqMethod.Default.Quantize(w, K, N, spec, null));
    }
}
