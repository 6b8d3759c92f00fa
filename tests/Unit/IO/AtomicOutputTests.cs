using EvoQuant.IO;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Tests.Support;
using Google.Protobuf;
using Xunit;

namespace EvoQuant.Tests.IO;

/// <summary>Writes are all-or-nothing: a failed write leaves nothing at the output path (no file, no
/// folder it made), and temporary files of a killed writer are removed by the next write.</summary>
public sealed class AtomicOutputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-atomic").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    // Above pid_max on Linux (and never handed out on Windows): a writer that is surely gone.
    private const int DeadPid = 2_000_000_000;

    private string[] Entries() => Directory.GetFileSystemEntries(_dir, "*", SearchOption.AllDirectories);

    [Fact]
    public void AStaleTempOfADeadProcessIsRemovedByTheNextWriteToThatPath()
    {
        string target = Path.Combine(_dir, "out.json");
        string stale = Path.Combine(_dir, ".out.json" + AtomicOutput.TempMarker + DeadPid + "-0badf00d");
        string ours = Path.Combine(_dir, ".out.json" + AtomicOutput.TempMarker + Environment.ProcessId + "-0000cafe");
        string other = Path.Combine(_dir, ".other.json" + AtomicOutput.TempMarker + DeadPid + "-0badf00d");
        foreach (var f in new[] { stale, ours, other }) File.WriteAllText(f, "half");
        AtomicOutput.WriteAllText(target, "{}");
        Assert.Equal("{}", File.ReadAllText(target));
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(ours), "a live writer's temp (this process) must be left alone");
        Assert.True(File.Exists(other), "only temps of the same target are swept");
    }

    [Fact]
    public void AFailedWriteLeavesNoFileAndNoFolderItMade()
    {
        string target = Path.Combine(_dir, "new", "deeper", "out.json");
        using (var output = new AtomicOutput())
        {
            string temp = output.TempFor(target);
            File.WriteAllText(temp, "half");
            Assert.True(Directory.Exists(Path.Combine(_dir, "new", "deeper")));
            // no Commit: the writer failed
        }
        Assert.Empty(Entries());
    }

    [Fact]
    public void AParentThatIsAFileGivesOutputNotWritable()
    {
        File.WriteAllText(Path.Combine(_dir, "file"), "x");
        var e = Assert.Throws<OutputNotWritableException>(() => AtomicOutput.WriteAllText(Path.Combine(_dir, "file", "out.json"), "{}"));
        Assert.EndsWith("out.json", e.OutputPath);
        Assert.Equal("x", File.ReadAllText(Path.Combine(_dir, "file")));
    }

    [Fact]
    public void ProcIsNotWritableAndSaysSo()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.Throws<OutputNotWritableException>(() => AtomicOutput.WriteAllText("/proc/evoquant-test.json", "{}"));
    }

    [Theory]
    [InlineData("missing/")]
    [InlineData(" ")]
    public void APathThatNamesNoFileIsRefusedAndLeavesNothing(string name)
    {
        Assert.Throws<OutputNotWritableException>(() => AtomicOutput.WriteAllText(Path.Combine(_dir, name), "{}"));
        Assert.Empty(Entries());
    }

    [Fact]
    public void AnInvalidModelIsNotWritten()
    {
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestData.Require(TestData.FashionCnn)));
        var w = proto.Graph.Initializer.First(t => t.Dims.Count == 4);
        w.RawData = ByteString.CopyFrom(w.RawData.Span[..^4]); // disagrees with its dims: would not load
        var model = new OnnxModel(proto);
        string target = Path.Combine(_dir, "sub", "bad.onnx");
        var e = Assert.Throws<OnnxModelException>(() => model.Save(target));
        Assert.Equal(ModelErrorKind.OutputInvalid, e.Kind);
        Assert.Empty(Entries());
    }

    [Fact]
    public void ThroughALinkedFolderTheInputIsStillRecognised()
    {
        string src = Path.Combine(_dir, "src");
        Directory.CreateDirectory(src);
        string input = Path.Combine(src, "m.onnx");
        File.Copy(TestData.Require(TestData.FashionCnn), input);
        Directory.CreateSymbolicLink(Path.Combine(_dir, "alias"), src);
        var model = OnnxModel.Load(input);
        var e = Assert.Throws<OnnxModelException>(() => model.Save(Path.Combine(_dir, "alias", "m.onnx"), new ModelSaveOptions { Overwrite = true }));
        Assert.Equal(ModelErrorKind.WouldOverwrite, e.Kind);
        Assert.Equal(File.ReadAllBytes(TestData.FashionCnn), File.ReadAllBytes(input));
    }

    [Fact]
    public void ASavedModelLeavesNoTemporaryFiles()
    {
        var model = OnnxModel.Load(TestData.Require(TestData.FashionCnn));
        model.Save(Path.Combine(_dir, "a.onnx"));
        model.Save(Path.Combine(_dir, "b.onnx"), new ModelSaveOptions { ForceExternalData = true });
        Assert.Equal(new[] { "a.onnx", "b.onnx", "b.onnx.data" }, Entries().Select(Path.GetFileName).Order().ToArray());
    }

    [Fact]
    public void TheSourcesExternalDataFileIsNeverReplaced()
    {
        // A model whose data file is "out.onnx.data": saving it as out.onnx would replace its own data.
        var model = OnnxModel.Load(TestData.Require(TestData.FashionCnn));
        string first = Path.Combine(_dir, "out.onnx");
        model.Save(first, new ModelSaveOptions { ForceExternalData = true });
        var withData = OnnxModel.Load(first);
        string data = first + ".data";
        byte[] before = File.ReadAllBytes(data);
        var e = Assert.Throws<OnnxModelException>(() => withData.With(withData.CloneProto()).Save(first, new ModelSaveOptions { Overwrite = true }));
        Assert.Equal(ModelErrorKind.WouldOverwrite, e.Kind);
        Assert.Equal(before, File.ReadAllBytes(data));
    }

    [Fact]
    public void AReadOnlyFolderGivesOutputNotWritableWithAccessDenied()
    {
        // root ignores file modes: there is nothing to observe then (CI runs as a normal user).
        if (!OperatingSystem.IsLinux() || Environment.UserName == "root") return;
        string folder = Directory.CreateDirectory(Path.Combine(_dir, "ro")).FullName;
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        try
        {
            var e = Assert.Throws<OutputNotWritableException>(() => AtomicOutput.WriteAllText(Path.Combine(folder, "out.json"), "{}"));
            Assert.True(e.AccessDenied);
            Assert.Empty(Directory.GetFileSystemEntries(folder));
        }
        finally { File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); }
    }
}
