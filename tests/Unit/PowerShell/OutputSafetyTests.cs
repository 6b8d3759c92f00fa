using System.Management.Automation;
using System.Security.Cryptography;
using EvoQuant.Onnx.Proto;
using EvoQuant.Tests.Support;
using Google.Protobuf;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>No data lost through the cmdlets: inputs are never replaced, existing files only with -Force,
/// a failed write leaves nothing at the output path, and each refusal has a specific ErrorId.</summary>
public sealed class OutputSafetyTests : IDisposable
{
    private readonly PowerShellSession _ps = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-out").FullName;
    private readonly string _model;
    private readonly string _calib;

    public OutputSafetyTests()
    {
        _model = Path.Combine(_dir, "m.onnx");
        _calib = Path.Combine(_dir, "calib.npy");
        File.Copy(TestData.Require(TestData.FashionCnn), _model);
        File.Copy(TestData.Require(TestData.FashionCalib), _calib);
    }

    public void Dispose()
    {
        _ps.Dispose();
        Directory.Delete(_dir, true);
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    private static ErrorRecord SingleError(PowerShellSession.Result r, string errorId)
    {
        Assert.True(r.Errors.Count == 1, string.Join("; ", r.Errors.Select(x => x.FullyQualifiedErrorId + ": " + x.Exception.Message)));
        var e = r.Errors[0];
        Assert.StartsWith(errorId + ",", e.FullyQualifiedErrorId);
        Assert.False(string.IsNullOrEmpty(e.ErrorDetails?.RecommendedAction), $"{errorId}: no advice");
        return e;
    }

    [Theory]
    [InlineData("model", "")]
    [InlineData("model", "-Force")]
    [InlineData("calib", "")]
    [InlineData("calib", "-Force")]
    public void MeasureCalibrationNeverReplacesItsInputs(string which, string force)
    {
        string target = which == "model" ? _model : _calib;
        string before = Hash(target);
        var r = _ps.Run($"Measure-Calibration -Model $args[0] -InputPath $args[1] -OutFile $args[2] {force}", _model, _calib, target);
        Assert.Empty(r.Output); // refused before measuring
        SingleError(r, "MeasureCalibrationOutputIsInput");
        Assert.Equal(before, Hash(target));
    }

    [Fact]
    public void MeasureCalibrationReplacesAnExistingFileOnlyWithForce()
    {
        string existing = Path.Combine(_dir, "table.json");
        File.WriteAllText(existing, "precious");
        var r = _ps.Run("Measure-Calibration -Model $args[0] -InputPath $args[1] -OutFile $args[2]", _model, _calib, existing);
        Assert.Equal(ErrorCategory.ResourceExists, SingleError(r, "MeasureCalibrationOutputExists").CategoryInfo.Category);
        Assert.Equal("precious", File.ReadAllText(existing));

        var forced = _ps.Run("Measure-Calibration -Model $args[0] -InputPath $args[1] -OutFile $args[2] -Force", _model, _calib, existing);
        Assert.Empty(forced.Errors);
        Assert.StartsWith("{", File.ReadAllText(existing));
    }

    [Fact]
    public void MeasureCalibrationReportsAnUnwritableOutFileAndStillReturnsTheTable()
    {
        File.WriteAllText(Path.Combine(_dir, "file"), "x");
        var r = _ps.Run("Measure-Calibration -Model $args[0] -InputPath $args[1] -OutFile $args[2]", _model, _calib, Path.Combine(_dir, "file", "t.json"));
        Assert.Single(r.Output);
        Assert.Equal(ErrorCategory.WriteError, SingleError(r, "MeasureCalibrationOutputNotWritable").CategoryInfo.Category);
    }

    [Theory]
    [InlineData("parent-is-file")]
    [InlineData("proc")]
    public void InvokeQuantizationWriteFailuresAreSpecificAndLeaveNothing(string kind)
    {
        if (kind == "proc" && !OperatingSystem.IsLinux()) return;
        File.WriteAllText(Path.Combine(_dir, "file"), "x");
        string output = kind == "proc" ? "/proc/evoquant-out.onnx" : Path.Combine(_dir, "file", "out.onnx");
        var r = _ps.Run("Invoke-Quantization -Model $args[0] -Dynamic -Path $args[1]", _model, output);
        Assert.Empty(r.Output);
        var e = SingleError(r, "InvokeQuantizationOutputNotWritable");
        Assert.True(e.CategoryInfo.Category is ErrorCategory.WriteError or ErrorCategory.PermissionDenied);
        Assert.Equal(new[] { "calib.npy", "file", "m.onnx" }, Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).Order().ToArray());
    }

    [Theory]
    [InlineData(" ", "InvokeQuantizationInvalidOutputPath")]
    [InlineData("   ", "InvokeQuantizationInvalidOutputPath")]
    [InlineData("missing/", "InvokeQuantizationOutputFolderNotFound")]
    [InlineData("missing/deeper/", "InvokeQuantizationOutputFolderNotFound")]
    public void InvokeQuantizationRefusesAPathThatNamesNoFileAndCreatesNothing(string path, string errorId)
    {
        var r = _ps.Run("$ExecutionContext.SessionState.Path.SetLocation($args[2]) | Out-Null; Invoke-Quantization -Model $args[0] -Dynamic -Path $args[1]", _model, path, _dir);
        Assert.Empty(r.Output);
        SingleError(r, errorId);
        Assert.Equal(new[] { "calib.npy", "m.onnx" }, Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).Order().ToArray());
    }

    [Fact]
    public void AnOrphanTempOfAKilledRunIsRemovedByTheNextRun()
    {
        string orphan = Path.Combine(_dir, ".out.onnx" + EvoQuant.IO.AtomicOutput.TempMarker + "2000000000-0badf00d");
        File.WriteAllText(orphan, "half a model");
        var r = _ps.Run("Invoke-Quantization -Model $args[0] -Dynamic -Path $args[1]", _model, Path.Combine(_dir, "out.onnx"));
        Assert.Empty(r.Errors);
        Assert.False(File.Exists(orphan));
        Assert.Equal(new[] { "calib.npy", "m.onnx", "out.onnx" }, Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).Order().ToArray());
    }

    [Fact]
    public void AQuantizedModelThatWouldNotLoadIsNotWritten()
    {
        // A Conv bias shorter than the weight's output channels: the model loads, its quantized form does not.
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(_model));
        var conv = proto.Graph.Node.First(n => n.OpType == "Conv" && n.Input.Count == 3);
        var bias = proto.Graph.Initializer.First(t => t.Name == conv.Input[2]);
        bias.Dims[0] -= 1;
        bias.RawData = ByteString.CopyFrom(bias.RawData.Span[..^4]);
        string bad = Path.Combine(_dir, "bad.onnx");
        File.WriteAllBytes(bad, proto.ToByteArray());
        string output = Path.Combine(_dir, "bad.int8.onnx");
        // Dynamic reshapes the bias for the integer Conv and the result breaks ONNX's size rules (Conv is
        // named: by default dynamic quantization keeps it in float).
        var r = _ps.Run("Invoke-Quantization -Model $args[0] -Dynamic -OpType Conv -Path $args[1]", bad, output);
        Assert.Empty(r.Output);
        Assert.Equal(ErrorCategory.InvalidResult, SingleError(r, "InvokeQuantizationOutputInvalid").CategoryInfo.Category);
        Assert.False(File.Exists(output), "an invalid model was left at -Path");
        Assert.Empty(Directory.GetFiles(_dir, ".*"));

        // Static per-channel QOperator refuses the bias: a specific error that does not blame validation data.
        var s = _ps.Run("$cal = @{}; (Get-OnnxGraph $args[0]).Nodes | ForEach-Object { $_.Outputs + $_.Inputs } | ForEach-Object { $cal[$_] = @(-1.0, 1.0) }; " +
                        "Invoke-Quantization -Model $args[0] -Calibration $cal -PerChannel -Format QOperator -Path $args[1]", bad, output);
        Assert.Empty(s.Output);
        SingleError(s, "InvokeQuantizationQuantizationFailed");
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void CompareQuantAccuracyNeverWritesItsReportOverAnInput()
    {
        string candidate = Path.Combine(_dir, "q.onnx");
        Assert.Empty(_ps.Run("Invoke-Quantization -Model $args[0] -Dynamic -Path $args[1]", _model, candidate).Errors);
        foreach (string target in new[] { _model, candidate, _calib })
        {
            string before = Hash(target);
            var r = _ps.Run("Compare-QuantAccuracy -Reference $args[0] -Candidate $args[1] -InputPath $args[2] -Report $args[3] -Force",
                _model, candidate, _calib, target);
            Assert.Contains(r.Errors, e => e.FullyQualifiedErrorId.StartsWith("CompareQuantAccuracyReportIsInput,", StringComparison.Ordinal));
            Assert.Equal(before, Hash(target));
        }
    }
}
