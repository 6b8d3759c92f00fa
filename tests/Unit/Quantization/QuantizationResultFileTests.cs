using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Quantization;

/// <summary>The one save of a quantization result: the file is written atomically, never over the source,
/// and the result then describes the file (path, model as loaded back, sizes).</summary>
public sealed class QuantizationResultFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-resultfile").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string CopyOfFashion()
    {
        string path = Path.Combine(_dir, "fashion-cnn.onnx");
        File.Copy(TestData.Require(TestData.FashionCnn), path);
        return path;
    }

    [Fact]
    public void SaveFillsPathModelAndSizesFromTheFileWritten()
    {
        var source = OnnxModel.Load(CopyOfFashion());
        var result = ModelQuantizer.Quantize(source, QuantizationOptions.Dynamic());
        Assert.Same(source, result.SourceModel);
        Assert.Null(result.Path);
        string output = Path.Combine(_dir, "out.onnx");

        var saved = result.Save(output);

        Assert.Same(result, saved);
        Assert.Equal(output, saved.Path);
        Assert.Equal(output, saved.Model.Path); // loaded back: the next step reads what was written
        Assert.Equal(new FileInfo(output).Length, saved.FileSizeAfter);
        Assert.Equal(new FileInfo(source.Path!).Length, saved.FileSizeBefore);
        Assert.Equal(File.ReadAllBytes(output), saved.Model.ToBytes());
        Assert.Empty(Directory.GetFiles(_dir, ".*")); // no temporary file left
    }

    [Fact]
    public void SaveNeverReplacesTheSourceAndAnExistingFileOnlyWhenAsked()
    {
        string path = CopyOfFashion();
        byte[] before = File.ReadAllBytes(path);
        var result = ModelQuantizer.Quantize(OnnxModel.Load(path), QuantizationOptions.Dynamic());
        var e = Assert.Throws<OnnxModelException>(() => result.Save(path, overwrite: true));
        Assert.Equal(ModelErrorKind.WouldOverwrite, e.Kind);
        Assert.Equal(before, File.ReadAllBytes(path));

        string existing = Path.Combine(_dir, "existing.onnx");
        File.WriteAllText(existing, "keep me");
        Assert.Equal(ModelErrorKind.WouldOverwrite, Assert.Throws<OnnxModelException>(() => result.Save(existing)).Kind);
        Assert.Equal("keep me", File.ReadAllText(existing));
        Assert.Null(result.Path);
        result.Save(existing, overwrite: true);
        Assert.Equal(existing, result.Path);
    }

    [Fact]
    public void OutputPathForAFolderIsTheModelsQuantName()
    {
        var source = OnnxModel.Load(CopyOfFashion());
        Assert.Equal(Path.Combine(_dir, "fashion-cnn.quant.onnx"), QuantizationResultFile.OutputPathFor(_dir, source));
        Assert.Equal(Path.Combine(_dir, "fashion-cnn.quant.onnx"), QuantizationResultFile.OutputPathFor(_dir + Path.DirectorySeparatorChar, source));
        Assert.Equal(Path.Combine(_dir, "x.onnx"), QuantizationResultFile.OutputPathFor(Path.Combine(_dir, "x.onnx"), source));
        string missing = Path.Combine(_dir, "missing") + Path.DirectorySeparatorChar;
        Assert.Throws<DirectoryNotFoundException>(() => QuantizationResultFile.OutputPathFor(missing, source));
        Assert.False(Directory.Exists(missing));
    }

    [Fact]
    public void SaveCanCheckTheWrittenFilesBeforeCommittingThem()
    {
        var source = OnnxModel.Load(CopyOfFashion());
        var options = QuantizationOptions.Dynamic() with { VerifyWhenSaved = true };
        var result = ModelQuantizer.Quantize(source, options);
        string output = Path.Combine(_dir, "out.onnx");

        result.Save(output, externalData: ExternalDataChoice.Always, verifyWithRuntime: true);

        // The model checked named the temporary data file; the one committed names the final one.
        var locations = OnnxModel.AllTensors(result.Model.Proto.Graph).Where(TensorData.IsExternal).Select(t => ExternalDataInfo.Parse(t).Location).Distinct();
        Assert.Equal(new[] { "out.onnx.data" }, locations);
        using (var file = RuntimeModelFile.For(result.Model)) Assert.Null(RuntimeVerifier.TryRun(file));
        Assert.Empty(Directory.GetFiles(_dir, ".*"));
    }

    [Fact]
    public void AWrittenModelOnnxRuntimeRejectsIsNotCommitted()
    {
        var source = OnnxModel.Load(CopyOfFashion());
        var result = ModelQuantizer.Quantize(source, QuantizationOptions.Dynamic() with { VerifyWhenSaved = true });
        // A convolution ONNX Runtime cannot shape (7 groups over one input channel): valid protobuf, refused at load.
        var conv = result.Model.Proto.Graph.Node.First(n => n.OpType.StartsWith("Conv", StringComparison.Ordinal));
        conv.Attribute.Add(new EvoQuant.Onnx.Proto.AttributeProto { Name = "group", Type = EvoQuant.Onnx.Proto.AttributeProto.Types.AttributeType.Int, I = 7 });
        string output = Path.Combine(_dir, "out.onnx");

        foreach (var external in new[] { ExternalDataChoice.Never, ExternalDataChoice.Always })
        {
            var e = Assert.Throws<QuantizationException>(() => result.Save(output, externalData: external, verifyWithRuntime: true));
            Assert.Contains("ONNX Runtime rejects the quantized model", e.Message);
            Assert.Equal(new[] { Path.Combine(_dir, "fashion-cnn.onnx") }, Directory.GetFiles(_dir)); // nothing written, no temporary file
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ACheckedOneFileOutputIsReadBackWhole(bool weightOnly)
    {
        // The check lets the in-memory tensors of a one-file output go (and prepacks weight-only kernels);
        // the result then holds what was written, every tensor in it.
        var source = OnnxModel.Load(CopyOfFashion());
        var options = (weightOnly ? QuantizationOptions.ForWeightOnly() : QuantizationOptions.Dynamic()) with { VerifyWhenSaved = true };
        var result = ModelQuantizer.Quantize(source, options);
        Assert.True(!weightOnly || result.WeightOnlyLayers.Count > 0);
        string output = Path.Combine(_dir, "out.onnx");

        result.Save(output, externalData: ExternalDataChoice.Never, verifyWithRuntime: true);

        Assert.Equal(output, result.Model.Path);
        Assert.Equal(File.ReadAllBytes(output), result.Model.ToBytes());
        using (var file = RuntimeModelFile.For(result.Model)) Assert.Null(RuntimeVerifier.TryRun(file));
        Assert.Empty(Directory.GetFiles(_dir, ".*"));
    }
}
