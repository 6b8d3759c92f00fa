using EvoQuant.Data;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Quantization.WeightOnly;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;
using static EvoQuant.Tests.Quantization.Helpers.TinyModels;

namespace EvoQuant.Tests.Quantization.WeightOnly;

/// <summary>Weight-only quantization from calibration samples (what Invoke-Quantization -WeightOnly -CalibrationData
/// runs): which method the samples choose, statistics for every input GPTQ needs, samples left unread by methods that
/// need none, and refusals before any sample is read.</summary>
public sealed class WeightOnlyCalibrationTests
{
    private const int K = 64, H = 96, N = 16, Rows = 48;

    // x [rows, 64] -> MatMul W1 [64, 96] -> Relu -> MatMul W2 [96, 16]
    private static OnnxModel Mlp()
    {
        var g = new GraphProto { Name = "mlp" };
        g.Input.Add(Float("x", 0, K));
        g.Output.Add(Float("y", 0, N));
        g.Initializer.Add(TensorData.FromFloats("W1", new long[] { K, H }, Random(K * H, 1, 0.3f)));
        g.Initializer.Add(TensorData.FromFloats("W2", new long[] { H, N }, Random(H * N, 2, 0.3f)));
        g.Node.Add(Node("MatMul", new[] { "x", "W1" }, new[] { "h" }, "up"));
        g.Node.Add(Node("Relu", new[] { "h" }, new[] { "r" }, "relu"));
        g.Node.Add(Node("MatMul", new[] { "r", "W2" }, new[] { "y" }, "down"));
        return Model(g);
    }

    /// <summary>Rows of x driven by a few latent factors (the seed fixes them too), as real activations are:
    /// correlated inputs are where GPTQ's error feedback pays.</summary>
    private static float[] Inputs(int rows, int seed) => WeightOnlySynthetic.CorrelatedInputs(rows, K, latent: 6, seed);

    private static List<object> Samples(float[] x, int perSample) =>
        Enumerable.Range(0, x.Length / K / perSample)
            .Select(i => (object)new Sample(new NamedTensor("x", x[(i * perSample * K)..((i + 1) * perSample * K)], new long[] { perSample, K }), $"s{i}"))
            .ToList();

    private static QuantizationOptions Options(IWeightOnlyMethod method) =>
        QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { Bits = 4, BlockSize = 16, Method = method });

    [Fact]
    public void GptqMeasuresEveryInputItQuantizesAndItsModelIsCloserToFloatThanRoundToNearest()
    {
        var model = Mlp();
        var all = Inputs(Rows + 64, 3);
        var calibration = Samples(all[..(Rows * K)], perSample: 6);
        var prepared = WeightOnlyCalibration.Prepare(model, Options(WeightOnlyMethods.Choose(null, samplesGiven: true)), calibration);

        Assert.Equal(Rows, prepared.Samples); // counted in rows, as calibration counts samples: each sample holds 6
        Assert.Empty(prepared.Notes);
        var stats = prepared.Options.WeightOnly.InputStatistics!;
        Assert.Equal(new[] { "r", "x" }, stats.Keys.OrderBy(k => k, StringComparer.Ordinal));
        Assert.All(stats.Values, s => Assert.Equal(Rows, s.RowCount));
        Assert.Equal((K, H), (stats["x"].Channels, stats["r"].Channels));

        var gptq = ModelQuantizer.Quantize(model, prepared.Options);
        var rtn = ModelQuantizer.Quantize(model, Options(RoundToNearestMethod.Instance));
        Assert.All(gptq.WeightOnlyLayers, l => Assert.Equal("GPTQ", l.Method));
        // On other rows from the same distribution, in ONNX Runtime.
        var x = all[(Rows * K)..];
        var reference = Run(model, x);
        double gptqError = Mse(reference, Run(gptq.Model, x)), rtnError = Mse(reference, Run(rtn.Model, x));
        Assert.True(gptqError < 0.8 * rtnError, $"GPTQ {gptqError:g4} vs RTN {rtnError:g4}");
    }

    [Fact]
    public void MethodsThatNeedNoStatisticsLeaveTheSamplesUnread()
    {
        var options = Options(WeightOnlyMethods.Choose("rtn", samplesGiven: true));
        // Samples that do not fit the model: reading one would throw.
        var unfit = new List<object> { new Sample(new NamedTensor("nope", new float[3], new long[] { 3 }), "bad") };
        var prepared = WeightOnlyCalibration.Prepare(Mlp(), options, unfit);
        Assert.Same(options, prepared.Options);
        Assert.Equal(0, prepared.Samples);
        Assert.Contains("not read", Assert.Single(prepared.Notes));
        Assert.Empty(WeightOnlyCalibration.Prepare(Mlp(), options, null).Notes);
    }

    [Fact]
    public void BadOptionsAndMissingSamplesAreRefusedBeforeAnySampleIsRead()
    {
        IEnumerable<object> Unreadable() { throw new InvalidOperationException("a sample was read"); yield break; }

        var noSamples = Assert.Throws<QuantizationOptionsException>(() => WeightOnlyCalibration.Prepare(Mlp(), Options(GptqMethod.Default), null));
        Assert.Equal("CalibrationData", noSamples.Option);
        var bits = Assert.Throws<QuantizationOptionsException>(() =>
            WeightOnlyCalibration.Prepare(Mlp(), QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { Bits = 3, Method = GptqMethod.Default }), Unreadable()));
        Assert.Equal("WeightOnly.Bits", bits.Option);
        Assert.Throws<QuantizationOptionsException>(() => WeightOnlyCalibration.Prepare(Mlp(), QuantizationOptions.Dynamic(), Unreadable()));
    }

    [Fact]
    public void WithoutANameTheSamplesChooseTheMethod()
    {
        Assert.Same(GptqMethod.Default, WeightOnlyMethods.Choose(null, samplesGiven: true));
        Assert.Same(RoundToNearestMethod.Instance, WeightOnlyMethods.Choose(" ", samplesGiven: false));
        Assert.Same(RoundToNearestMethod.Instance, WeightOnlyMethods.Choose("RTN", samplesGiven: true));
        Assert.Same(GptqMethod.Default, WeightOnlyMethods.Choose("gptq", samplesGiven: false));
        var unknown = Assert.Throws<QuantizationOptionsException>(() => WeightOnlyMethods.Choose("Magic", samplesGiven: false));
        Assert.Equal("WeightOnly.Method", unknown.Option);
        Assert.Contains("GPTQ, RTN", unknown.Message);
    }

    [Fact]
    public void AModelWithOnlyEmbeddingsNeedsNoSamplesEvenWithGptq()
    {
        var g = new GraphProto { Name = "embedding" };
        g.Input.Add(new ValueInfoProto { Name = "ids", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = ElementTypes.Int64, Shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimValue = 4 } } } } } });
        g.Output.Add(Float("e", 4, K));
        g.Initializer.Add(TensorData.FromFloats("table", new long[] { 10, K }, Random(10 * K, 5)));
        g.Node.Add(Node("Gather", new[] { "table", "ids" }, new[] { "e" }, "embed"));
        var model = Model(g);
        var unfit = new List<object> { new Sample(new NamedTensor("nope", new float[3], new long[] { 3 }), "bad") };

        var prepared = WeightOnlyCalibration.Prepare(model, Options(GptqMethod.Default), unfit);
        Assert.Equal(0, prepared.Samples);
        Assert.Contains("no input to measure", Assert.Single(prepared.Notes));
        var result = ModelQuantizer.Quantize(model, prepared.Options);
        Assert.Equal("RTN", Assert.Single(result.WeightOnlyLayers).Method);
    }

    private static float[] Run(OnnxModel model, float[] x)
    {
        using var session = new InferenceSession(model.ToBytes());
        using var outputs = session.Run(new[] { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, new[] { x.Length / K, K })) });
        return ((DenseTensor<float>)outputs.First().Value).Buffer.ToArray();
    }

    private static double Mse(float[] a, float[] b) => a.Zip(b, (p, q) => (double)(p - q) * (p - q)).Average();
}
