using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.IO;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using EvoQuant.Quantization.WeightOnly;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Quantization;

/// <summary>Issue 21: the quantized weights of an output with external data go to disk as the rewrite makes
/// them (<see cref="QuantizationOptions.StreamedData"/>), and the saved output is byte for byte the one
/// written from memory; the scratch file never outlives the write, whatever happens to it.</summary>
public sealed class StreamedOutputDataTests : IDisposable
{
    // Above pid_max on Linux: a writer that is surely gone.
    private const int DeadPid = 2_000_000_000;
    private const int Width = 512; // int4 blocks of a 512x512 weight: 128 KiB, over the streaming minimum

    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-streamed").FullName;
    private readonly string _source;

    public StreamedOutputDataTests()
    {
        _source = LargeModelFile.Write(Path.Combine(_dir, "in"), blocks: 3, Width);
    }

    public void Dispose() => Directory.Delete(_dir, true);

    private QuantizationOptions Options(string mode) => mode switch
    {
        "dynamic" => QuantizationOptions.Dynamic(),
        "qdq" => QuantizationOptions.Static(Ranges()),
        "qoperator" => QuantizationOptions.Static(Ranges()) with { Format = QuantFormat.QOperator },
        "weightonly" => QuantizationOptions.ForWeightOnly(new WeightOnlyOptions { Bits = 4 }),
        _ => throw new ArgumentException(mode),
    };

    private CalibrationTable Ranges()
    {
        string samples = Path.Combine(_dir, "x.npy");
        if (!File.Exists(samples)) NpyWriter.Write(samples, LargeModelFile.Input(4, Width));
        return Calibrator.Run(OnnxModel.Load(_source), new object[] { samples }, new CalibrationOptions { Method = CalibrationMethod.MinMax });
    }

    private static string[] Files(string folder) => Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    [Theory]
    [InlineData("dynamic", false)]
    [InlineData("dynamic", true)]
    [InlineData("qdq", true)]
    [InlineData("qoperator", false)]
    [InlineData("weightonly", true)]
    public void AStreamedOutputIsByteForByteTheOneWrittenFromMemory(string mode, bool verify)
    {
        var source = OnnxModel.Load(_source);
        var options = Options(mode) with { VerifyWithRuntime = verify, VerifyWhenSaved = verify };
        string fromMemory = Path.Combine(_dir, "memory", "out.onnx"), streamedPath = Path.Combine(_dir, "streamed", "out.onnx");
        ModelQuantizer.Quantize(source, options).Save(fromMemory, verifyWithRuntime: verify);

        using (var streamed = StreamedOutputData.For(streamedPath, source, ExternalDataChoice.Auto))
        {
            Assert.NotNull(streamed); // the source keeps external data, so the output does
            var result = ModelQuantizer.Quantize(source, options with { StreamedData = streamed });
            // The quantized weights were written during the rewrite: the model holds their locations only.
            var onDisk = result.Model.Proto.Graph.Initializer.Where(t => TensorData.IsExternal(t) && ExternalDataInfo.Parse(t).Location == Path.GetFileName(streamed!.Path)).ToList();
            Assert.Equal(3, onDisk.Count);
            Assert.All(onDisk, t => Assert.Equal(0, t.RawData.Length));
            Assert.Equal(onDisk.Sum(t => ExternalDataInfo.Parse(t).Length), streamed!.Length);
            Assert.True(File.Exists(streamed.Path));
            result.Save(streamedPath, verifyWithRuntime: verify);
            Assert.Equal(streamedPath, result.Path);
        }

        Assert.Equal(new[] { "out.onnx", "out.onnx.data" }, Files(Path.GetDirectoryName(streamedPath)!)); // the scratch file is gone
        Assert.Equal(File.ReadAllBytes(fromMemory), File.ReadAllBytes(streamedPath));
        Assert.Equal(File.ReadAllBytes(fromMemory + ".data"), File.ReadAllBytes(streamedPath + ".data"));
    }

    [Theory]
    [InlineData(QuantFormat.QDQ)]
    [InlineData(QuantFormat.QOperator)]
    public void AWeightQuantizedAgainForItsBiasIsStreamedAgain(QuantFormat format)
    {
        // A 1x1 Conv of 256 channels (int8 weight: 64 KiB, streamed) whose channel 1 has weights ~0 and bias 5:
        // the bias fit quantizes the streamed weight again with a wider scale.
        const int c = 256;
        var rng = new Random(3);
        var w = new float[c * c];
        for (int i = 0; i < w.Length; i++) w[i] = i / c == 1 ? 1e-9f : (float)(rng.NextDouble() - 0.5);
        var bias = new float[c];
        bias[1] = 5f;
        var g = new GraphProto { Name = "g" };
        g.Input.Add(TinyModels.Float("x", 1, c, 2, 2));
        g.Output.Add(TinyModels.Float("y", 1, c, 2, 2));
        g.Initializer.Add(TensorData.FromFloats("w", new long[] { c, c, 1, 1 }, w));
        g.Initializer.Add(TensorData.FromFloats("b", new long[] { c }, bias));
        g.Node.Add(TinyModels.Node("Conv", new[] { "x", "w", "b" }, new[] { "y" }, "conv"));
        var model = TinyModels.Model(g);
        var options = QuantizationOptions.Static(new Dictionary<string, ActivationRange> { ["x"] = new(-1, 1), ["y"] = new(-8, 8) }) with { PerChannel = true, Format = format };
        string fromMemory = Path.Combine(_dir, "memory", "out.onnx"), streamedPath = Path.Combine(_dir, "streamed", "out.onnx");
        var inMemory = ModelQuantizer.Quantize(model, options);
        Assert.Contains(inMemory.Warnings, m => m.Contains("widened"));
        inMemory.Save(fromMemory, externalData: ExternalDataChoice.Always);

        using (var streamed = StreamedOutputData.For(streamedPath, model, ExternalDataChoice.Always))
        {
            ModelQuantizer.Quantize(model, options with { StreamedData = streamed }).Save(streamedPath, externalData: ExternalDataChoice.Always);
            // QDQ streams the weight before its bias is fitted, so it goes again with the wider scale;
            // QOperator fits the bias within the node, before the node's weights are streamed.
            Assert.Equal((format == QuantFormat.QDQ ? 2L : 1L) * c * c, streamed!.Length);
        }
        Assert.Equal(File.ReadAllBytes(fromMemory), File.ReadAllBytes(streamedPath));
        Assert.Equal(File.ReadAllBytes(fromMemory + ".data"), File.ReadAllBytes(streamedPath + ".data"));
    }

    [Fact]
    public void AnOutputWithoutExternalDataIsNotStreamed()
    {
        var source = OnnxModel.Load(_source);
        string output = Path.Combine(_dir, "out", "out.onnx");
        Assert.Null(StreamedOutputData.For(output, source, ExternalDataChoice.Never));
        var inline = OnnxModel.Load(TestData.Require(TestData.FashionCnn));
        Assert.Null(StreamedOutputData.For(output, inline, ExternalDataChoice.Auto));
        using var always = StreamedOutputData.For(output, inline, ExternalDataChoice.Always);
        Assert.NotNull(always);
    }

    [Fact]
    public void AStreamedModelOnnxRuntimeRejectsLeavesNothing()
    {
        var source = OnnxModel.Load(_source);
        string folder = Path.Combine(_dir, "new", "folder"), output = Path.Combine(folder, "out.onnx");
        using (var streamed = StreamedOutputData.For(output, source, ExternalDataChoice.Auto))
        {
            var result = ModelQuantizer.Quantize(source, QuantizationOptions.Dynamic() with { VerifyWhenSaved = true, StreamedData = streamed });
            Assert.True(streamed!.Length > 0);
            // An op no runtime knows: a valid protobuf that ONNX Runtime refuses to load.
            result.Model.Proto.Graph.Node[^1].OpType = "NoSuchOp";
            Assert.Throws<QuantizationException>(() => result.Save(output, verifyWithRuntime: true));
            Assert.Equal(new[] { Path.GetFileName(streamed.Path) }, Files(folder)); // only the scratch file, until disposed
        }
        Assert.False(Directory.Exists(Path.Combine(_dir, "new"))); // the folders the write made go too
    }

    [Fact]
    public void AScratchFileOfAKilledRunIsRemovedByTheNextWrite()
    {
        var source = OnnxModel.Load(_source);
        string folder = Path.Combine(_dir, "out"), output = Path.Combine(folder, "out.onnx");
        Directory.CreateDirectory(folder);
        string stale = Path.Combine(folder, ".out.onnx.data" + AtomicOutput.TempMarker + DeadPid + "-0badf00d");
        File.WriteAllText(stale, "weights of a run that was killed");

        using (var streamed = StreamedOutputData.For(output, source, ExternalDataChoice.Auto))
        {
            Assert.False(File.Exists(stale));
            ModelQuantizer.Quantize(source, QuantizationOptions.Dynamic() with { VerifyWithRuntime = false, StreamedData = streamed }).Save(output);
        }
        Assert.Equal(new[] { "out.onnx", "out.onnx.data" }, Files(folder));

        // A next write without a data file (nothing streamed) removes it too.
        File.WriteAllText(stale, "weights of a run that was killed");
        ModelQuantizer.Quantize(source, QuantizationOptions.Dynamic() with { VerifyWithRuntime = false }).Save(output, overwrite: true, externalData: ExternalDataChoice.Never);
        Assert.Equal(new[] { "out.onnx", "out.onnx.data" }, Files(folder)); // the old data file is not this write's to remove
    }

    [Fact]
    public void AStreamedModelRunsInOnnxRuntimeBeforeItIsSaved()
    {
        // The check of a model in memory (VerifyWhenSaved off) reads the streamed weights from the scratch file.
        var source = OnnxModel.Load(_source);
        using var streamed = StreamedOutputData.For(Path.Combine(_dir, "out", "out.onnx"), source, ExternalDataChoice.Auto);
        var result = ModelQuantizer.Quantize(source, QuantizationOptions.Dynamic() with { StreamedData = streamed });
        Assert.True(streamed!.Length > 0);
        using var file = RuntimeModelFile.For(result.Model);
        Assert.Null(RuntimeVerifier.TryRun(file));
    }
}
