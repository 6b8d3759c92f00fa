using EvoQuant.Quantization.WeightOnly;
using Xunit;
using static EvoQuant.Tests.Quantization.Helpers.TinyModels;

namespace EvoQuant.Tests.Quantization.WeightOnly;

/// <summary>Round-to-nearest: codes in range, each value within half a step of its block's grid, symmetric blocks
/// with the middle code as zero point and their largest magnitude exact, zero exact in asymmetric blocks.</summary>
public sealed class RoundToNearestTests
{
    [Theory]
    [InlineData(4, 16, true)]
    [InlineData(4, 32, false)]
    [InlineData(8, 128, true)]
    [InlineData(8, 64, false)]
    public void EveryValueIsWithinHalfAStepOfItsBlocksGrid(int bits, int block, bool symmetric)
    {
        const int k = 150, n = 7;
        var w = Random(k * n, 3, 2f).Select((v, i) => i % 11 == 0 ? v + 1.5f : v).ToArray();
        var spec = new BlockQuantizationSpec(bits, block, symmetric);
        var m = RoundToNearestMethod.Instance.Quantize(w, k, n, spec, null);

        Assert.Equal((k + block - 1) / block, m.BlocksPerColumn);
        Assert.All(m.UnpackCodes(), c => Assert.InRange(c, 0, spec.MaxCode));
        if (symmetric) Assert.All(m.ZeroPoints, z => Assert.Equal(spec.SymmetricZeroPoint, z));
        for (int c = 0; c < n; c++)
            for (int r = 0; r < k; r++)
            {
                float scale = m.Scales[c * m.BlocksPerColumn + r / block];
                Assert.True(scale > 0);
                Assert.True(MathF.Abs(m.ValueAt(r, c) - w[r * n + c]) <= scale / 2 * 1.0001f, $"[{r},{c}] {w[r * n + c]} -> {m.ValueAt(r, c)}, step {scale}");
            }
    }

    [Fact]
    public void SymmetricBlocksKeepTheirLargestMagnitudeExactlyAndAsymmetricOnesKeepZero()
    {
        // One column, two blocks of 16: the first led by a negative value, the second by a positive one.
        var w = new float[32];
        for (int i = 0; i < 32; i++) w[i] = (i % 5 - 2) * 0.1f;
        w[3] = -1.6f;
        w[20] = 1.4f;
        w[25] = 0f;
        var sym = RoundToNearestMethod.Instance.Quantize(w, 32, 1, new BlockQuantizationSpec(4, 16, true), null);
        Assert.Equal(-1.6f, sym.ValueAt(3, 0), 6);
        Assert.Equal(0, sym.Code(3, 0)); // the most negative code
        Assert.Equal(1.4f, sym.ValueAt(20, 0), 6);
        Assert.Equal(15, sym.Code(20, 0)); // the most positive code
        var asym = RoundToNearestMethod.Instance.Quantize(w, 32, 1, new BlockQuantizationSpec(4, 16, false), null);
        Assert.Equal(0f, asym.ValueAt(25, 0));
        Assert.NotEqual(asym.ZeroPoints[0], asym.ZeroPoints[1]);
    }

    [Fact]
    public void AnAllZeroBlockDequantizesToZero()
    {
        var w = new float[64];
        for (int i = 32; i < 64; i++) w[i] = i * 0.01f;
        foreach (bool sym in new[] { true, false })
        {
            var m = RoundToNearestMethod.Instance.Quantize(w, 64, 1, new BlockQuantizationSpec(8, 32, sym), null);
            for (int k = 0; k < 32; k++) Assert.Equal(0f, m.ValueAt(k, 0));
        }
    }

    [Fact]
    public void AWeightOfTheWrongSizeIsRefused() =>
        Assert.Throws<ArgumentException>(() => RoundToNearestMethod.Instance.Quantize(new float[10], 4, 3, new BlockQuantizationSpec(), null));
}
