using System.Management.Automation;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using Google.Protobuf;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>Get-OnnxGraph through a real PowerShell pipeline.</summary>
public sealed class GetOnnxGraphTests : IDisposable
{
    private readonly PowerShellSession _ps = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-ps").FullName;

    public void Dispose()
    {
        _ps.Dispose();
        Directory.Delete(_dir, true);
    }

    private string CopyFashion(string name)
    {
        string p = Path.Combine(_dir, name);
        File.Copy(TestData.Require(TestData.FashionCnn), p);
        return p;
    }

    [Fact]
    public void LoadsAModelWithItsFacts()
    {
        var r = _ps.Run("Get-OnnxGraph -Path $args[0]", TestData.Require(TestData.FashionCnn));
        Assert.Empty(r.Errors);
        var m = Assert.Single(r.Objects<OnnxModel>());
        Assert.Equal(55, m.NodeCount);
        Assert.Equal(new FileInfo(TestData.FashionCnn).Length, m.FileSize);
        // Properties work in the pipeline as the design's examples use them.
        var convs = _ps.Run("(Get-OnnxGraph $args[0]).Nodes | Where-Object OpType -eq Conv | ForEach-Object Name", TestData.FashionCnn);
        Assert.Equal(16, convs.Output.Count);
    }

    [Fact]
    public void AcceptsPathsByValueAndFilesByPropertyName()
    {
        string a = CopyFashion("a.onnx"), b = CopyFashion("b.onnx");
        var byValue = _ps.Run("$args[0], $args[1] | Get-OnnxGraph", a, b);
        Assert.Equal(new[] { a, b }, byValue.Objects<OnnxModel>().Select(m => m.Path));

        var byFileInfo = _ps.Run("[System.IO.FileInfo]::new($args[0]), [System.IO.FileInfo]::new($args[1]) | Get-OnnxGraph", a, b);
        Assert.Empty(byFileInfo.Errors);
        Assert.Equal(2, byFileInfo.Objects<OnnxModel>().Count());

        var byProperty = _ps.Run("[pscustomobject]@{ Path = $args[0] } | Get-OnnxGraph", a);
        Assert.Equal(a, Assert.Single(byProperty.Objects<OnnxModel>()).Path);
    }

    [Fact]
    public void ExpandsWildcardsButNotWithLiteralPath()
    {
        CopyFashion("one.onnx");
        CopyFashion("two.onnx");
        string odd = CopyFashion("odd[1].onnx");
        var wild = _ps.Run("Get-OnnxGraph -Path ($args[0] + '/*o.onnx')", _dir);
        Assert.Equal(new[] { "two.onnx" }, wild.Objects<OnnxModel>().Select(m => m.Name));
        var literal = _ps.Run("Get-OnnxGraph -LiteralPath $args[0]", odd);
        Assert.Empty(literal.Errors);
        Assert.Equal("odd[1].onnx", Assert.Single(literal.Objects<OnnxModel>()).Name);
    }

    [Theory]
    [InlineData("missing", "GetOnnxGraphModelNotFound", ErrorCategory.ObjectNotFound)]
    [InlineData("empty", "GetOnnxGraphModelEmpty", ErrorCategory.InvalidData)]
    [InlineData("truncated", "GetOnnxGraphModelCorrupt", ErrorCategory.InvalidData)]
    [InlineData("directory", "GetOnnxGraphPathIsDirectory", ErrorCategory.InvalidArgument)]
    [InlineData("outside", "GetOnnxGraphExternalDataOutsideFolder", ErrorCategory.SecurityError)]
    [InlineData("mismatch", "GetOnnxGraphModelInvalid", ErrorCategory.InvalidData)]
    public void BadInputGivesAnErrorRecordWithStableIdCategoryAndTarget(string kind, string errorId, ErrorCategory category)
    {
        string path = Path.Combine(_dir, kind + ".onnx");
        switch (kind)
        {
            case "empty": File.WriteAllBytes(path, Array.Empty<byte>()); break;
            case "truncated": File.WriteAllBytes(path, File.ReadAllBytes(TestData.FashionCnn)[..5000]); break;
            case "directory": Directory.CreateDirectory(path); break;
            case "outside": File.WriteAllBytes(path, WithFirstWeight(t =>
                {
                    long length = t.RawData.Length;
                    t.ClearRawData();
                    t.DataLocation = TensorProto.Types.DataLocation.External;
                    t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "../secret.bin" });
                    t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString() });
                })); break;
            case "mismatch": File.WriteAllBytes(path, WithFirstWeight(t => t.RawData = ByteString.CopyFrom(t.RawData.Span[..^4]))); break;
        }
        var r = _ps.Run("Get-OnnxGraph -LiteralPath $args[0]", path);
        Assert.Empty(r.Output);
        var e = Assert.Single(r.Errors);
        Assert.StartsWith(errorId + ",", e.FullyQualifiedErrorId);
        Assert.Equal(category, e.CategoryInfo.Category);
        Assert.Equal(path, e.TargetObject);
        Assert.False(string.IsNullOrEmpty(e.ErrorDetails?.RecommendedAction));
    }

    // The fashion CNN with its first 4-D weight edited.
    private static byte[] WithFirstWeight(Action<TensorProto> edit)
    {
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestData.Require(TestData.FashionCnn)));
        edit(proto.Graph.Initializer.First(t => t.Dims.Count == 4));
        return proto.ToByteArray();
    }

    [Fact]
    public void OneBadItemDoesNotStopTheOthers()
    {
        string good = CopyFashion("good.onnx");
        var r = _ps.Run("$args[0], $args[1], $args[2] | Get-OnnxGraph", good, Path.Combine(_dir, "nope.onnx"), good);
        Assert.Equal(2, r.Objects<OnnxModel>().Count());
        Assert.StartsWith("GetOnnxGraphModelNotFound", Assert.Single(r.Errors).FullyQualifiedErrorId);
        var stop = _ps.Run("try { Get-OnnxGraph $args[0] -ErrorAction Stop; 'not reached' } catch { $_.FullyQualifiedErrorId }", Path.Combine(_dir, "nope.onnx"));
        Assert.StartsWith("GetOnnxGraphModelNotFound", Assert.Single(stop.Output).ToString());
    }

    [Fact]
    public void VerboseSaysWhatWasLoaded()
    {
        var r = _ps.Run("Get-OnnxGraph $args[0] -Verbose", TestData.FashionCnn);
        Assert.Contains(r.Verbose, v => v.Contains("55 nodes"));
    }
}
