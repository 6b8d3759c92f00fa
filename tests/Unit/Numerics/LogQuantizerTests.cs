using EvoQuant.Numerics;
using Xunit;

namespace EvoQuant.Tests.Numerics;

public class LogQuantizerTests
{
    [Theory]
    [InlineData(4, 1)]
    [InlineData(8, 1)]
    [InlineData(4, 2)]
    [InlineData(8, 16)]
    public void Encode_PicksTheNearestLevel_ByBruteForce(int bits, int steps)
    {
        int top = LogQuantizer.MaxMagnitude(bits);
        const float scale = 0.8f;
        var rng = new Random(bits);
        for (int i = 0; i < 20000; i++)
        {
            // Magnitudes over many octaves, both signs, some beyond the scale.
            float x = (float)((rng.Next(2) * 2 - 1) * scale * Math.Pow(2, -rng.NextDouble() * (Math.Min(top, 20) + 2) + 0.3));
            int code = LogQuantizer.Encode(x, scale, bits, steps);
            Assert.InRange(code, -top, top);
            double error = Math.Abs(x - LogQuantizer.Decode(code, scale, steps));
            for (int c = -top; c <= top; c++)
                Assert.True(error <= Math.Abs(x - LogQuantizer.Decode(c, scale, steps)) * (1 + 1e-6), $"x={x}: code {code} ({error}) but {c} is nearer");
        }
    }

    [Fact]
    public void PowersOfTwoAndZero_AreExact_AndLargeValuesClip()
    {
        Assert.Equal(0, LogQuantizer.Encode(0f, 1f, 4));
        Assert.Equal(0f, LogQuantizer.Decode(0, 1f));
        for (int m = 1; m <= 7; m++)
        {
            float level = (float)Math.Pow(2, 1 - m);
            Assert.Equal(m, LogQuantizer.Encode(level, 1f, 4));
            Assert.Equal(-m, LogQuantizer.Encode(-level, 1f, 4));
            Assert.Equal(level, LogQuantizer.Decode(m, 1f));
        }
        Assert.Equal(1, LogQuantizer.Encode(5f, 1f, 4));
        Assert.Equal(-1, LogQuantizer.Encode(-5f, 1f, 8));
        // Below half the smallest 4-bit level (2^-6): zero.
        Assert.Equal(0, LogQuantizer.Encode((float)Math.Pow(2, -7.5), 1f, 4));
        Assert.Equal(7, LogQuantizer.Encode((float)Math.Pow(2, -6.5), 1f, 4));
        Assert.Equal(0, LogQuantizer.Encode(float.NaN, 1f, 8));
    }

    [Fact]
    public void PerChannelEncode_ScalesEachChannelByItsLargestMagnitude()
    {
        long[] dims = { 2, 3 };
        float[] data = { 1f, -0.5f, 0.25f, 8f, 2f, -4f };
        var (codes, scales) = LogQuantizer.Encode(data, dims, 0, 8);
        Assert.Equal(new[] { 1f, 8f }, scales);
        Assert.Equal(new sbyte[] { 1, -2, 3, 1, 3, -2 }, codes);
        var y = new float[3];
        LogQuantizer.RoundTrip(data.AsSpan(0, 3), y, 1f, 8);
        Assert.Equal(data.AsSpan(0, 3).ToArray(), y);
    }

    [Fact]
    public void FinerSteps_WinForEightBitCodesOfBellShapedWeights_AndTheChoiceIsTheSmallestError()
    {
        var rng = new Random(7);
        var data = new float[4096];
        for (int i = 0; i < data.Length; i++)
            data[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        long[] dims = { 64, 64 };
        double Error(int bits, int f)
        {
            var (codes, scales) = LogQuantizer.Encode(data, dims, 0, bits, f);
            return data.Select((x, i) => Math.Pow(x - LogQuantizer.Decode(codes[i], scales[i / 64], f), 2)).Sum();
        }
        foreach (int bits in new[] { 4, 8 })
        {
            int best = LogQuantizer.BestStepsPerOctave(data, dims, 0, bits);
            foreach (int f in LogQuantizer.StepChoices) Assert.True(Error(bits, best) <= Error(bits, f), $"{bits}-bit: {best} steps chosen, {f} is better");
        }
        Assert.True(LogQuantizer.BestStepsPerOctave(data, dims, 0, 8) >= 8);
        // Plain powers of two lose a lot: 8-bit codes with finer steps are over 10 dB better.
        Assert.True(10 * Math.Log10(Error(8, 1) / Error(8, LogQuantizer.BestStepsPerOctave(data, dims, 0, 8))) > 10);
        Assert.Throws<ArgumentOutOfRangeException>(() => LogQuantizer.Encode(1f, 1f, 8, 3));
    }
}
