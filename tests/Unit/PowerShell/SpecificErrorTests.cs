using System.Management.Automation;
using System.Text;
using EvoQuant.Calibration;
using EvoQuant.Onnx.Proto;
using EvoQuant.Tests.Support;
using Google.Protobuf;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>Careless or hostile input to the cmdlets gives a specific EvoQuant ErrorId with advice, never a
/// bare System.* exception or one that blames the wrong thing.</summary>
public sealed class SpecificErrorTests : IDisposable
{
    private readonly PowerShellSession _ps = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-spec").FullName;

    public void Dispose()
    {
        _ps.Dispose();
        Directory.Delete(_dir, true);
    }

    private static ErrorRecord SingleError(PowerShellSession.Result r, string errorId)
    {
        Assert.True(r.Errors.Count == 1, string.Join("; ", r.Errors.Select(x => x.FullyQualifiedErrorId + ": " + x.Exception.Message)));
        var e = r.Errors[0];
        Assert.StartsWith(errorId + ",", e.FullyQualifiedErrorId);
        return e;
    }

    private string Write(string name, string text)
    {
        string p = Path.Combine(_dir, name);
        File.WriteAllText(p, text, new UTF8Encoding(false));
        return p;
    }

    private static string ValidJson() => CalibrationTable.FromCalibrationCache("input 1.5\n").ToJson();

    [Theory]
    [InlineData("truncated.json")]
    [InlineData("nan.json")]
    [InlineData("inverted.json")]
    [InlineData("huge.json")]
    [InlineData("empty-object.json")]
    [InlineData("empty.cache")]
    [InlineData("blank.cache")]
    [InlineData("nan.cache")]
    [InlineData("huge.cache")]
    [InlineData("folder")]
    public void ABadTableFileIsAnInvalidArgument(string kind)
    {
        string json = ValidJson();
        Assert.Contains("\"rangeMin\": -1.5", json); // what the edits below rely on
        string path = kind switch
        {
            "truncated.json" => Write(kind, json[..(json.Length / 2)]),
            "nan.json" => Write(kind, json.Replace("\"rangeMin\": -1.5", "\"rangeMin\": \"NaN\"")),
            "inverted.json" => Write(kind, json.Replace("\"rangeMin\": -1.5", "\"rangeMin\": 2.5")),
            "huge.json" => Write(kind, json.Replace("\"rangeMin\": -1.5", "\"rangeMin\": -3e38").Replace("\"rangeMax\": 1.5", "\"rangeMax\": 3e38")),
            "empty-object.json" => Write(kind, "{}"),
            "empty.cache" => Write(kind, ""),
            "blank.cache" => Write(kind, "\n  \n"),
            "nan.cache" => Write(kind, "input NaN\n"),
            "huge.cache" => Write(kind, "input 3e38\n"),
            _ => Directory.CreateDirectory(Path.Combine(_dir, kind)).FullName,
        };
        string output = Path.Combine(_dir, "out.onnx");
        var r = _ps.Run("Invoke-Quantization -Model $args[0] -Calibration $args[1] -Path $args[2]", TestData.Require(TestData.FashionCnn), path, output);
        var e = SingleError(r, "InvokeQuantizationInvalidArgument");
        Assert.Equal(ErrorCategory.InvalidArgument, e.CategoryInfo.Category);
        Assert.False(File.Exists(output));

        // Import-CalibrationTable says the same about the file (except the folder, which it does not take as a file).
        if (kind != "folder")
            SingleError(_ps.Run("Import-CalibrationTable -Path $args[0]", path), "ImportCalibrationTableInvalidTable");
    }

    [Theory]
    [InlineData("@{ t = $null }")]
    [InlineData("@{ t = @(1) }")]
    [InlineData("@{ t = @(2, 1) }")]
    [InlineData("@{ t = @(-3e38, 3e38) }")]
    public void ABadHashtableIsAnInvalidArgument(string table)
    {
        var r = _ps.Run($"$t = {table}; Invoke-Quantization -Model $args[0] -Calibration $t -Path $args[1]",
            TestData.Require(TestData.FashionCnn), Path.Combine(_dir, "out.onnx"));
        Assert.Contains(r.Errors[0].FullyQualifiedErrorId.Split(',')[0], new[] { "InvokeQuantizationInvalidArgument", "InvokeQuantizationInvalidOptions" });
        Assert.Single(r.Errors);
    }

    // The fashion CNN with its first 4-D weight's values replaced.
    private string WithWeights(string name, float value)
    {
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestData.Require(TestData.FashionCnn)));
        var w = proto.Graph.Initializer.First(t => t.Dims.Count == 4);
        var values = new float[w.RawData.Length / 4];
        Array.Fill(values, value);
        w.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, proto.ToByteArray());
        return path;
    }

    [Theory]
    // Conv is named: dynamic quantization keeps it in float by default (ConvInteger is slower than float).
    [InlineData(float.PositiveInfinity, "-Dynamic -OpType Conv")]
    [InlineData(float.NaN, "-Dynamic -OpType Conv")]
    [InlineData(float.PositiveInfinity, "-Calibration $args[2]")]
    [InlineData(float.NaN, "-Calibration $args[2]")]
    [InlineData(float.NegativeInfinity, "-Calibration $args[2] -PerChannel")]
    public void NonFiniteWeightsAreRefusedWithoutBlamingValidationData(float value, string mode)
    {
        string model = WithWeights("w.onnx", value);
        string output = Path.Combine(_dir, "out.onnx");
        var r = _ps.Run($"Invoke-Quantization -Model $args[0] {mode} -Path $args[1]", model, output,
            CalibrationFile());
        var e = SingleError(r, "InvokeQuantizationInvalidWeights");
        Assert.Equal(ErrorCategory.InvalidData, e.CategoryInfo.Category);
        Assert.DoesNotContain("validation", e.Exception.Message, StringComparison.OrdinalIgnoreCase);
        Assert.False(File.Exists(output));
    }

    // A table with a range for every tensor of the fashion CNN (the ranges need not be good).
    private string CalibrationFile()
    {
        var m = EvoQuant.Onnx.OnnxModel.Load(TestData.FashionCnn);
        var names = m.Proto.Graph.Node.SelectMany(n => n.Input.Concat(n.Output)).Distinct().Where(n => n.Length > 0);
        return Write("all.cache", string.Concat(names.Select(n => n + " 4.0\n")));
    }

    [Fact]
    public void MeasureCalibrationReportsWhatOnnxRuntimeRefusesAsModelNotRunnable()
    {
        // A Conv bias one channel short: our loader accepts it (the tensor is self-consistent), ONNX Runtime does not run it.
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestData.Require(TestData.FashionCnn)));
        var conv = proto.Graph.Node.First(n => n.OpType == "Conv" && n.Input.Count == 3);
        var bias = proto.Graph.Initializer.First(t => t.Name == conv.Input[2]);
        bias.Dims[0] -= 1;
        bias.RawData = ByteString.CopyFrom(bias.RawData.Span[..^4]);
        string bad = Path.Combine(_dir, "bias.onnx");
        File.WriteAllBytes(bad, proto.ToByteArray());
        var r = _ps.Run("Measure-Calibration -Model $args[0] -InputPath $args[1]", bad, TestData.Require(TestData.FashionCalib));
        var e = SingleError(r, "MeasureCalibrationModelNotRunnable");
        Assert.Equal(ErrorCategory.InvalidData, e.CategoryInfo.Category);
        Assert.False(string.IsNullOrEmpty(e.ErrorDetails?.RecommendedAction));
    }

    [Fact]
    public void MeasureCalibrationReportsAnInputWithoutATypeAsModelNotRunnable()
    {
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestData.Require(TestData.FashionCnn)));
        proto.Graph.Input[0].Type = null;
        string bad = Path.Combine(_dir, "notype.onnx");
        File.WriteAllBytes(bad, proto.ToByteArray());
        var r = _ps.Run("Measure-Calibration -Model $args[0] -InputPath $args[1]", bad, TestData.Require(TestData.FashionCalib));
        Assert.NotEmpty(r.Errors);
        Assert.StartsWith("MeasureCalibration", r.Errors[0].FullyQualifiedErrorId);
        Assert.DoesNotContain(r.Errors, x => x.FullyQualifiedErrorId.StartsWith("System.", StringComparison.Ordinal) || x.FullyQualifiedErrorId.StartsWith("EvoQuant.", StringComparison.Ordinal));
    }

    [Fact]
    public void AnNpyHeaderWithAHugeShapeIsUnreadableNotAnOverflow()
    {
        string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1152921504606846976, 1, 28, 28), }";
        header = header.PadRight(117) + "\n"; // 10 + 118 bytes: data aligned to 64
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange(Encoding.ASCII.GetBytes("NUMPY"));
        bytes.AddRange(new byte[] { 1, 0, (byte)header.Length, 0 });
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        bytes.AddRange(new byte[64]);
        string npy = Path.Combine(_dir, "huge.npy");
        File.WriteAllBytes(npy, bytes.ToArray());
        Assert.Throws<EvoQuant.Data.SampleFormatException>(() => EvoQuant.Data.NpyReader.Read(npy));

        var r = _ps.Run("Measure-Calibration -Model $args[0] -InputPath $args[1]", TestData.Require(TestData.FashionCnn), npy);
        Assert.StartsWith("MeasureCalibrationSampleUnreadable,", r.Errors[0].FullyQualifiedErrorId);
        Assert.DoesNotContain(r.Errors, x => x.FullyQualifiedErrorId.StartsWith("System.", StringComparison.Ordinal));
    }
}
