using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Tests.Support;
using Google.Protobuf;
using Xunit;

namespace EvoQuant.Tests.Onnx;

/// <summary>External data may only come from the model's real folder: symbolic links at any level are
/// followed before the check, and offset + length are checked against the real file, at load.</summary>
public sealed class ExternalDataSymlinkTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-ext").FullName;
    private readonly string _modelDir;
    private readonly string _outside;
    private readonly byte[] _weight;
    private readonly string _weightName;

    public ExternalDataSymlinkTests()
    {
        _modelDir = Directory.CreateDirectory(Path.Combine(_dir, "model")).FullName;
        _outside = Directory.CreateDirectory(Path.Combine(_dir, "elsewhere")).FullName;
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestData.Require(TestData.FashionCnn)));
        var w = proto.Graph.Initializer.First(t => t.Dims.Count == 4);
        _weight = w.RawData.ToByteArray();
        _weightName = w.Name;
        // The "secret": bytes a hostile model must not be able to read (and which would pass as weights).
        File.WriteAllBytes(Path.Combine(_outside, "SECRET.bin"), _weight);
    }

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>The fashion CNN in the model folder, its first weight read from <paramref name="location"/>.</summary>
    private string WriteModel(string location, long? offset = null, long? length = null)
    {
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestData.FashionCnn));
        var w = proto.Graph.Initializer.First(t => t.Name == _weightName);
        w.ClearRawData();
        w.DataLocation = TensorProto.Types.DataLocation.External;
        w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        if (offset != null) w.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.Value.ToString() });
        w.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = (length ?? _weight.Length).ToString() });
        string path = Path.Combine(_modelDir, "m.onnx");
        File.WriteAllBytes(path, proto.ToByteArray());
        return path;
    }

    private static OnnxModelException Refused(string path) => Assert.Throws<OnnxModelException>(() => OnnxModel.Load(path));

    [Fact]
    public void ADirectorySymlinkToOutsideIsRefused()
    {
        Directory.CreateSymbolicLink(Path.Combine(_modelDir, "sub"), _outside);
        var e = Refused(WriteModel("sub/SECRET.bin"));
        Assert.Equal(ModelErrorKind.ExternalDataOutsideFolder, e.Kind);
        Assert.Contains("symbolic link", e.Message);
    }

    [Fact]
    public void ANestedDirectorySymlinkToOutsideIsRefused()
    {
        // The link is not the first component: every level is resolved.
        Directory.CreateDirectory(Path.Combine(_modelDir, "a", "b"));
        Directory.CreateSymbolicLink(Path.Combine(_modelDir, "a", "b", "c"), _outside);
        Assert.Equal(ModelErrorKind.ExternalDataOutsideFolder, Refused(WriteModel("a/b/c/SECRET.bin")).Kind);
    }

    [Fact]
    public void DotDotAfterALinkedFolderIsAppliedPhysically()
    {
        // Lexically "sub/../w.bin" is model/w.bin; the kernel goes to elsewhere/inner/.. = elsewhere.
        Directory.CreateDirectory(Path.Combine(_outside, "inner"));
        File.WriteAllBytes(Path.Combine(_outside, "w.bin"), _weight);
        File.WriteAllBytes(Path.Combine(_modelDir, "w.bin"), _weight);
        Directory.CreateSymbolicLink(Path.Combine(_modelDir, "sub"), Path.Combine(_outside, "inner"));
        Assert.Equal(ModelErrorKind.ExternalDataOutsideFolder, Refused(WriteModel("sub/../w.bin")).Kind);
    }

    [Fact]
    public void AFileSymlinkWhoseTargetIsPaddedToTheTensorLengthIsRefused()
    {
        // The attack: the link's own size (its target text) equals the tensor's length, so a size check
        // that looks at the link passes; the target is what would be read.
        string target = Path.Combine(_outside, "SECRET.bin");
        string padded = new string('/', _weight.Length - target.Length) + target;
        Assert.Equal(_weight.Length, padded.Length);
        File.CreateSymbolicLink(Path.Combine(_modelDir, "w.bin"), padded);
        var e = Refused(WriteModel("w.bin"));
        Assert.Equal(ModelErrorKind.ExternalDataOutsideFolder, e.Kind);
    }

    [Fact]
    public void AChainOfLinksThatEndsOutsideIsRefused()
    {
        File.CreateSymbolicLink(Path.Combine(_modelDir, "hop2"), Path.Combine(_outside, "SECRET.bin"));
        File.CreateSymbolicLink(Path.Combine(_modelDir, "hop1"), "hop2");
        Assert.Equal(ModelErrorKind.ExternalDataOutsideFolder, Refused(WriteModel("hop1")).Kind);
    }

    [Fact]
    public void ALinkLoopIsRefusedWithOurException()
    {
        File.CreateSymbolicLink(Path.Combine(_modelDir, "a"), "b");
        File.CreateSymbolicLink(Path.Combine(_modelDir, "b"), "a");
        var e = Refused(WriteModel("a"));
        Assert.True(e.Kind is ModelErrorKind.ExternalDataOutsideFolder or ModelErrorKind.ExternalDataMissing, e.Kind.ToString());
    }

    [Fact]
    public void ADanglingLinkIsMissing()
    {
        File.CreateSymbolicLink(Path.Combine(_modelDir, "w.bin"), "nothing-here.bin");
        Assert.Equal(ModelErrorKind.ExternalDataMissing, Refused(WriteModel("w.bin")).Kind);
    }

    [Fact]
    public void SymlinksThatStayInsideTheFolderAreAllowedAndReadTheRightBytes()
    {
        Directory.CreateDirectory(Path.Combine(_modelDir, "data"));
        File.WriteAllBytes(Path.Combine(_modelDir, "data", "real.bin"), _weight);
        File.CreateSymbolicLink(Path.Combine(_modelDir, "w.bin"), "data/real.bin");
        Directory.CreateSymbolicLink(Path.Combine(_modelDir, "alias"), "data");

        foreach (string location in new[] { "w.bin", "alias/real.bin", "./data/../w.bin" })
        {
            var m = OnnxModel.Load(WriteModel(location));
            var t = m.Proto.Graph.Initializer.First(x => x.Name == _weightName);
            Assert.Equal(_weight, m.GetRawBytes(t));
        }
    }

    [Fact]
    public void AModelLoadedThroughALinkedFolderStillReadsItsOwnData()
    {
        // The containment check compares real paths on both sides: a model folder reached through a link is fine.
        File.WriteAllBytes(Path.Combine(_modelDir, "w.bin"), _weight);
        WriteModel("w.bin");
        string linked = Path.Combine(_dir, "linked-model");
        Directory.CreateSymbolicLink(linked, _modelDir);
        var m = OnnxModel.Load(Path.Combine(linked, "m.onnx"));
        Assert.Equal(_weight, m.GetRawBytes(m.Proto.Graph.Initializer.First(x => x.Name == _weightName)));
    }

    [Fact]
    public void AFileReplacedByAnOutsideLinkAfterLoadIsRefusedOnRead()
    {
        string data = Path.Combine(_modelDir, "w.bin");
        File.WriteAllBytes(data, _weight);
        var m = OnnxModel.Load(WriteModel("w.bin"));
        File.Delete(data);
        File.CreateSymbolicLink(data, Path.Combine(_outside, "SECRET.bin"));
        var t = m.Proto.Graph.Initializer.First(x => x.Name == _weightName);
        Assert.Equal(ModelErrorKind.ExternalDataOutsideFolder, Assert.Throws<OnnxModelException>(() => m.GetRawBytes(t)).Kind);
    }

    [Theory]
    [InlineData(long.MaxValue)]
    [InlineData(long.MaxValue - 100)]
    [InlineData(1L << 62)]
    public void AnOffsetThatOverflowsIsRefusedAtLoad(long offset)
    {
        File.WriteAllBytes(Path.Combine(_modelDir, "w.bin"), _weight);
        var e = Refused(WriteModel("w.bin", offset));
        Assert.Equal(ModelErrorKind.ExternalDataOutOfRange, e.Kind);
        Assert.Contains(offset.ToString(), e.Message);
    }

    [Fact]
    public void ALengthBeyondTheFileIsRefusedAtLoad()
    {
        File.WriteAllBytes(Path.Combine(_modelDir, "w.bin"), _weight[..^1]);
        Assert.Equal(ModelErrorKind.ExternalDataOutOfRange, Refused(WriteModel("w.bin")).Kind);
        // One byte of offset past a file that is exactly long enough: also beyond.
        File.WriteAllBytes(Path.Combine(_modelDir, "w.bin"), _weight);
        Assert.Equal(ModelErrorKind.ExternalDataOutOfRange, Refused(WriteModel("w.bin", 1)).Kind);
    }

    [Fact]
    public void TheRangeIsCheckedAgainstTheLinkTargetNotTheLink()
    {
        // An inside link to a short file: the link text is long, the file it names is not.
        File.WriteAllBytes(Path.Combine(_modelDir, "short.bin"), new byte[16]);
        string padded = string.Concat(Enumerable.Repeat("./", (_weight.Length - "short.bin".Length) / 2)) + "short.bin";
        File.CreateSymbolicLink(Path.Combine(_modelDir, "w.bin"), padded);
        Assert.Equal(ModelErrorKind.ExternalDataOutOfRange, Refused(WriteModel("w.bin")).Kind);
    }

    [Fact]
    public void AFileShortenedAfterLoadGivesOurExceptionOnRead()
    {
        string data = Path.Combine(_modelDir, "w.bin");
        File.WriteAllBytes(data, _weight);
        var m = OnnxModel.Load(WriteModel("w.bin"));
        File.WriteAllBytes(data, _weight[..10]);
        var t = m.Proto.Graph.Initializer.First(x => x.Name == _weightName);
        Assert.Equal(ModelErrorKind.ExternalDataOutOfRange, Assert.Throws<OnnxModelException>(() => m.GetRawBytes(t)).Kind);
    }

    [Fact]
    public void TheModelSavedWithExternalDataStillRoundTrips()
    {
        var m = OnnxModel.Load(TestData.FashionCnn);
        string path = Path.Combine(_modelDir, "saved.onnx");
        m.Save(path, new ModelSaveOptions { ForceExternalData = true });
        var back = OnnxModel.Load(path);
        var external = back.Proto.Graph.Initializer.Where(TensorData.IsExternal).ToList();
        Assert.NotEmpty(external);
        foreach (var t in external)
            Assert.Equal(m.GetRawBytes(m.Proto.Graph.Initializer.First(x => x.Name == t.Name)), back.GetRawBytes(t));
    }

    [Fact]
    public void TheFileActuallyOpenedIsCheckedToo()
    {
        // What a link swapped in between the check and the open amounts to: a handle on a file outside.
        if (!OperatingSystem.IsLinux()) return;
        var ext = new ExternalDataInfo("w.bin", 0, _weight.Length);
        using (var inside = File.Create(Path.Combine(_modelDir, "w.bin"))) ext.CheckOpened(inside, _modelDir, null, _weightName);
        using var outside = File.OpenRead(Path.Combine(_outside, "SECRET.bin"));
        var e = Assert.Throws<OnnxModelException>(() => ext.CheckOpened(outside, _modelDir, null, _weightName));
        Assert.Equal(ModelErrorKind.ExternalDataOutsideFolder, e.Kind);
    }
}
