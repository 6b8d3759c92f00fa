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

        // -Model, -Reference and -Candidate bind a model reference without reading it: every cmdlet reports
        // the model with its own specific ErrorId, none as a binding error.
        string fashion = TestData.Require(TestData.FashionCnn);
        foreach (var (prefix, script) in new[]
        {
            ("GetOnnxGraph", "Get-OnnxGraph -LiteralPath $args[0]"),
            ("InvokeQuantization", "Invoke-Quantization -Model $args[0] -Dynamic -Path $args[1]"),
            ("MeasureCalibration", "Measure-Calibration -Model $args[0] -InputPath $args[2]"),
            ("CompareQuantAccuracy", "Compare-QuantAccuracy -Reference $args[0] -Candidate $args[3] -InputPath $args[2] -NoTiming"),
            ("CompareQuantAccuracy", "Compare-QuantAccuracy -Reference $args[3] -Candidate $args[0] -InputPath $args[2] -NoTiming"),
        })
        {
            var r = _ps.Run(script, model, output, TestData.Require(TestData.FashionCalib), fashion);
            Assert.Empty(r.Output);
            var e = Assert.Single(r.Errors);
            Assert.StartsWith(prefix + reason + ",", e.FullyQualifiedErrorId);
            Assert.Equal(category, e.CategoryInfo.Category);
            Assert.False(string.IsNullOrEmpty(e.ErrorDetails?.RecommendedAction), $"{prefix}: no advice");
            Assert.Equal(reason, Assert.IsType<EvoQuant.Onnx.OnnxModelException>(e.Exception).Kind.ToString());
            Assert.False(File.Exists(output), $"{prefix} wrote an output");
        }
    }
}
