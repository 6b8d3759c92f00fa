using EvoQuant.Calibration;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Onnx;

/// <summary>Issue 21 in small: models with external data go through sessions built from files, calibration,
/// quantization and comparison, and outputs keep (or drop, when asked) their external data.</summary>
public sealed class RuntimeModelFileTests : IDisposable
{
    private const int Width = 64, Blocks = 3;
    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-rmf").FullName;
    private readonly string _model;

    public RuntimeModelFileTests() => _model = LargeModelFile.Write(Path.Combine(_dir, "in"), Blocks, Width);

    public void Dispose() => Directory.Delete(_dir, true);

    private string[] FilesIn(string folder) => Directory.GetFiles(folder).Select(Path.GetFileName).Order().ToArray()!;

    [Fact]
    public void AnUnchangedModelIsOpenedFromItsOwnFile()
    {
        var m = OnnxModel.Load(_model);
        using var file = RuntimeModelFile.For(m);
        Assert.Equal(m.Path, file.Path);
        Assert.False(file.IsTemporary);
    }

    [Fact]
    public void AnEditedModelWithExternalDataIsWrittenNextToItsDataAndRemovedAfter()
    {
        var m = OnnxModel.Load(_model);
        var edited = m.With(m.CloneProto());
        var before = FilesIn(m.BaseDirectory!);
        string path;
        using (var file = RuntimeModelFile.For(edited))
        {
            path = file.Path;
            Assert.True(file.IsTemporary);
            Assert.Equal(m.BaseDirectory, Path.GetDirectoryName(path));
            Assert.True(File.Exists(path));
            // The temporary model names the same data file: it holds only the graph.
            Assert.True(new FileInfo(path).Length < 10_000, $"{new FileInfo(path).Length} bytes");
            using var a = new ModelRunner(file, optimize: true);
            using var b = new ModelRunner(m, optimize: true);
            var x = new Dictionary<string, EvoQuant.Data.NamedTensor> { ["x"] = LargeModelFile.Input(2, Width) };
            using var ra = a.Run(x, new[] { "y" });
            using var rb = b.Run(x, new[] { "y" });
            Assert.Equal(rb.Data("y").ToArray(), ra.Data("y").ToArray());
        }
        Assert.False(File.Exists(path));
        Assert.Equal(before, FilesIn(m.BaseDirectory!));
    }

    [Fact]
    public void AModelInAReadOnlyFolderIsCopiedIntoAPrivateFolder()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName == "root") return; // root writes anywhere
        var m = OnnxModel.Load(_model);
        var folder = new DirectoryInfo(m.BaseDirectory!);
        folder.UnixFileMode = UnixFileMode.UserRead | UnixFileMode.UserExecute;
        try
        {
            using var file = RuntimeModelFile.For(m.With(m.CloneProto()));
            Assert.True(file.IsTemporary);
            Assert.NotEqual(m.BaseDirectory, Path.GetDirectoryName(file.Path));
            Assert.True(File.Exists(file.Path + ".data"));
            using var runner = new ModelRunner(file, optimize: false);
            Assert.True(runner.IsFloatOutput("y"));
        }
        finally { folder.UnixFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute; }
    }

    [Fact]
    public void MinMaxCalibrationReadsConstantsThroughTheModel()
    {
        // The Add biases are external: the derivation check must not read them without the model.
        var m = OnnxModel.Load(_model);
        var table = Calibrator.Run(m, new object[] { LargeModelFile.Input(8, Width) }, new CalibrationOptions { Method = CalibrationMethod.MinMax });
        var inline = OnnxModel.Load(Inline(m));
        var reference = Calibrator.Run(inline, new object[] { LargeModelFile.Input(8, Width) }, new CalibrationOptions { Method = CalibrationMethod.MinMax });
        Assert.Equal(reference.Count, table.Count);
        foreach (var r in reference.Ranges)
        {
            Assert.Equal(r.Min, table[r.Tensor]!.Min);
            Assert.Equal(r.Max, table[r.Tensor]!.Max);
        }
    }

    private string Inline(OnnxModel m)
    {
        string path = Path.Combine(_dir, "inline.onnx");
        m.Save(path, new ModelSaveOptions { ExternalData = ExternalDataChoice.Never });
        Assert.Single(Directory.GetFiles(_dir, "inline.onnx*"));
        return path;
    }

    [Theory]
    [InlineData(ExternalDataChoice.Auto, true)]
    [InlineData(ExternalDataChoice.Always, true)]
    [InlineData(ExternalDataChoice.Never, false)]
    public void OutputsKeepExternalDataAsChosenAndSizesCountIt(ExternalDataChoice choice, bool external)
    {
        var m = OnnxModel.Load(_model);
        var result = ModelQuantizer.Quantize(m, QuantizationOptions.Dynamic());
        string output = Path.Combine(_dir, "out", "q.onnx");
        var written = result.Model.Save(output, new ModelSaveOptions { ExternalData = choice, Source = m });
        Assert.Equal(external, File.Exists(output + ".data"));
        Assert.Equal(external ? 2 : 1, written.Count);
        var back = OnnxModel.Load(output);
        Assert.Equal(written.Sum(p => new FileInfo(p).Length), back.SizeOnDisk);
        // The float model's size counts its data file: its graph alone is a few KB.
        Assert.Equal(new FileInfo(_model).Length + new FileInfo(_model + ".data").Length, m.SizeOnDisk);
        Assert.Equal(m.SizeOnDisk, result.FileSizeBefore);
        var report = AccuracyComparer.Compare(m, back, new object[] { LargeModelFile.Input(4, Width) });
        Assert.True(report.Summary.MinOutputSqnr > 20, $"SQNR {report.Summary.MinOutputSqnr}");
    }

    [Fact]
    public void AnOutputNeverReplacesTheDataFileOfItsSource()
    {
        // The source, renamed other.onnx, still reads large.onnx.data: an output written as large.onnx would
        // put its data file there. The quantized model no longer names that file; its source does.
        string sourceData = _model + ".data";
        string renamed = Path.Combine(Path.GetDirectoryName(_model)!, "other.onnx");
        File.Move(_model, renamed);
        var m = OnnxModel.Load(renamed);
        var q = ModelQuantizer.Quantize(m, QuantizationOptions.Dynamic());
        byte[] before = File.ReadAllBytes(sourceData);
        var e = Assert.Throws<OnnxModelException>(() => q.Model.Save(_model, new ModelSaveOptions { Overwrite = true, Source = m }));
        Assert.Equal(ModelErrorKind.WouldOverwrite, e.Kind);
        Assert.Equal(before, File.ReadAllBytes(sourceData));
        Assert.False(File.Exists(_model));
    }
}
