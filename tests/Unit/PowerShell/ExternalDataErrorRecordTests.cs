using System.Management.Automation;
using EvoQuant.Onnx.Proto;
using EvoQuant.Tests.Support;
using Google.Protobuf;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>External-data attacks through the cmdlets: each gives an error record with a specific ErrorId
/// and category, and nothing is written.</summary>
public sealed class ExternalDataErrorRecordTests : IDisposable
{
    private readonly PowerShellSession _ps = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-psext").FullName;
    private readonly string _modelDir;
    private readonly string _outside;

    public ExternalDataErrorRecordTests()
    {
        _modelDir = Directory.CreateDirectory(Path.Combine(_dir, "model")).FullName;
        _outside = Directory.CreateDirectory(Path.Combine(_dir, "elsewhere")).FullName;
    }

    public void Dispose()
    {
        _ps.Dispose();
        Directory.Delete(_dir, true);
    }

    private string WriteModel(string location, long offset)
    {
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestData.Require(TestData.FashionCnn)));
        var w = proto.Graph.Initializer.First(t => t.Dims.Count == 4);
        byte[] bytes = w.RawData.ToByteArray();
        File.WriteAllBytes(Path.Combine(_outside, "SECRET.bin"), bytes);
        File.WriteAllBytes(Path.Combine(_modelDir, "w.bin"), bytes);
        w.ClearRawData();
        w.DataLocation = TensorProto.Types.DataLocation.External;
        w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        w.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString() });
        w.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = bytes.Length.ToString() });
        string path = Path.Combine(_modelDir, "m.onnx");
        File.WriteAllBytes(path, proto.ToByteArray());
        return path;
    }

    [Theory]
    [InlineData("dirlink", "ExternalDataOutsideFolder", ErrorCategory.SecurityError)]
    [InlineData("filelink", "ExternalDataOutsideFolder", ErrorCategory.SecurityError)]
    [InlineData("overflow", "ExternalDataOutOfRange", ErrorCategory.InvalidData)]
    public void EveryCmdletRefusesWithASpecificErrorIdAndWritesNothing(string attack, string reason, ErrorCategory category)
    {
        string model = attack switch
        {
            "dirlink" => WriteModel("sub/SECRET.bin", 0),
            "filelink" => WriteModel("link.bin", 0),
            _ => WriteModel("w.bin", long.MaxValue),
        };
        if (attack == "dirlink") Directory.CreateSymbolicLink(Path.Combine(_modelDir, "sub"), _outside);
        if (attack == "filelink") File.CreateSymbolicLink(Path.Combine(_modelDir, "link.bin"), Path.Combine(_outside, "SECRET.bin"));
        string output = Path.Combine(_dir, "out.onnx");

        foreach (var (prefix, script) in new[]
        {
            ("GetOnnxGraph", "Get-OnnxGraph -LiteralPath $args[0]"),
            ("InvokeQuantization", "Invoke-Quantization -Model $args[0] -Dynamic -Path $args[1]"),
        })
        {
            var r = _ps.Run(script, model, output, TestData.Require(TestData.FashionCalib));
            Assert.Empty(r.Output);
            var e = Assert.Single(r.Errors);
            Assert.StartsWith(prefix + reason + ",", e.FullyQualifiedErrorId);
            Assert.Equal(category, e.CategoryInfo.Category);
            Assert.False(string.IsNullOrEmpty(e.ErrorDetails?.RecommendedAction), $"{prefix}: no advice");
            Assert.False(File.Exists(output), $"{prefix} wrote an output");
        }

        // Measure-Calibration loads -Model while binding (documented: ParameterArgumentTransformationError);
        // the Core exception and its kind travel inside the record.
        var m = _ps.Run("Measure-Calibration -Model $args[0] -InputPath $args[1]", model, TestData.FashionCalib);
        var binding = Assert.Single(m.Errors);
        Assert.StartsWith("ParameterArgumentTransformationError,", binding.FullyQualifiedErrorId);
        var inner = binding.Exception;
        while (inner != null && inner is not EvoQuant.Onnx.OnnxModelException) inner = inner.InnerException;
        Assert.Equal(reason, Assert.IsType<EvoQuant.Onnx.OnnxModelException>(inner).Kind.ToString());
    }
}
