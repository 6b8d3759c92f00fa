using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Tests.Support;
using Google.Protobuf;
using Xunit;

namespace EvoQuant.Tests.Onnx;

/// <summary>Bad input gets our one documented exception, with a kind the cmdlets map to ErrorIds.</summary>
public sealed class BadInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-bad").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Write(string name, byte[] bytes)
    {
        string p = Path.Combine(_dir, name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    private static ModelErrorKind KindOf(Action a) => Assert.Throws<OnnxModelException>(a).Kind;

    [Fact]
    public void EmptyFile() => Assert.Equal(ModelErrorKind.Empty, KindOf(() => OnnxModel.Load(Write("empty.onnx", Array.Empty<byte>()))));

    [Fact]
    public void MissingFile()
    {
        var e = Assert.Throws<OnnxModelException>(() => OnnxModel.Load(Path.Combine(_dir, "nope.onnx")));
        Assert.Equal(ModelErrorKind.NotFound, e.Kind);
        Assert.EndsWith("nope.onnx", e.ModelPath);
    }

    [Fact]
    public void Directory_() => Assert.Equal(ModelErrorKind.IsDirectory, KindOf(() => OnnxModel.Load(_dir)));

    [Fact]
    public void RandomBytes()
    {
        var rng = new Random(42);
        for (int i = 0; i < 50; i++)
        {
            var bytes = new byte[rng.Next(1, 4096)];
            rng.NextBytes(bytes);
            var kind = KindOf(() => OnnxModel.Load(Write($"random{i}.onnx", bytes)));
            Assert.True(kind is ModelErrorKind.Corrupt or ModelErrorKind.Invalid, $"random bytes gave {kind}");
        }
    }

    [Fact]
    public void TruncatedRealModel()
    {
        byte[] full = File.ReadAllBytes(TestData.Require(TestData.FashionCnn));
        foreach (int length in new[] { 10, 100, full.Length / 2, full.Length - 1 })
        {
            var e = Assert.Throws<OnnxModelException>(() => OnnxModel.Load(Write($"trunc{length}.onnx", full[..length])));
            Assert.True(e.Kind is ModelErrorKind.Corrupt or ModelErrorKind.Invalid, $"truncated at {length} gave {e.Kind}");
            Assert.Contains("trunc", e.Message);
        }
    }

    [Fact]
    public void TensorWhoseSizeDisagreesWithItsData()
    {
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestData.Require(TestData.FashionCnn)));
        var weight = proto.Graph.Initializer.First(t => t.Dims.Count == 4);
        weight.RawData = ByteString.CopyFrom(weight.RawData.Span[..^4]);
        var e = Assert.Throws<OnnxModelException>(() => OnnxModel.Load(Write("mismatch.onnx", proto.ToByteArray())));
        Assert.Equal(ModelErrorKind.Invalid, e.Kind);
        Assert.Contains(weight.Name, e.Message);
    }

    [Theory]
    [InlineData("../outside.bin")]
    [InlineData("sub/../../outside.bin")]
    [InlineData("/etc/passwd")]
    public void ExternalDataOutsideTheModelFolderIsRefused(string location)
    {
        string modelDir = Path.Combine(_dir, "model");
        Directory.CreateDirectory(modelDir);
        File.WriteAllBytes(Path.Combine(_dir, "outside.bin"), new byte[4096]);
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestData.Require(TestData.FashionCnn)));
        var weight = proto.Graph.Initializer.First(t => t.Dims.Count == 4);
        long length = weight.RawData.Length;
        weight.ClearRawData();
        weight.DataLocation = TensorProto.Types.DataLocation.External;
        weight.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        weight.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString() });
        string path = Path.Combine(modelDir, "evil.onnx");
        File.WriteAllBytes(path, proto.ToByteArray());
        Assert.Equal(ModelErrorKind.ExternalDataOutsideFolder, KindOf(() => OnnxModel.Load(path)));
    }

    [Fact]
    public void MissingExternalDataFile()
    {
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestData.Require(TestData.FashionCnn)));
        var weight = proto.Graph.Initializer.First(t => t.Dims.Count == 4);
        weight.ClearRawData();
        weight.DataLocation = TensorProto.Types.DataLocation.External;
        weight.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
        Assert.Equal(ModelErrorKind.ExternalDataMissing, KindOf(() => OnnxModel.Load(Write("noext.onnx", proto.ToByteArray()))));
    }

    /// <summary>Property: mutating bytes of real models either still loads or fails with
    /// OnnxModelException; never any other exception, never a crash.</summary>
    [Fact]
    [Trait("Category", "TestData")]
    public void MutatedRealModelsLoadOrFailWithOurException()
    {
        var sources = new[] { TestData.FashionCnn, TestData.OcrCls }
            .Concat(Directory.GetDirectories(TestData.Require(TestData.OnnxNodeTests)).Take(40).Select(d => Path.Combine(d, "model.onnx")))
            .Where(File.Exists).ToList();
        var rng = new Random(1234);
        int loaded = 0, refused = 0;
        foreach (string src in sources)
        {
            byte[] original = File.ReadAllBytes(src);
            for (int trial = 0; trial < 25; trial++)
            {
                byte[] bytes = (byte[])original.Clone();
                int mutations = rng.Next(1, 8);
                for (int k = 0; k < mutations; k++)
                {
                    int at = rng.Next(bytes.Length);
                    switch (rng.Next(3))
                    {
                        case 0: bytes[at] = (byte)rng.Next(256); break;
                        case 1: bytes[at] ^= (byte)(1 << rng.Next(8)); break;
                        default: bytes = bytes[..Math.Max(1, at)]; break;
                    }
                }
                try
                {
                    var m = OnnxModel.Load(bytes, _dir);
                    _ = m.Nodes.Count + m.Initializers.Count + m.ParameterCount; // the views must not throw either
                    _ = m.Inputs; _ = m.Outputs; _ = m.QuantizationFormat;
                    loaded++;
                }
                catch (OnnxModelException)
                {
                    refused++;
                }
            }
        }
        Assert.True(refused > 0 && loaded + refused == sources.Count * 25);
    }
}
