using System.Management.Automation;
using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Onnx.Proto;
using EvoQuant.Tests.Support;
using Google.Protobuf;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>NaN, infinity and data meant for another model are refused or warned about, never used
/// silently as if they were ranges.</summary>
public sealed class SilentGarbageTests : IDisposable
{
    private readonly PowerShellSession _ps = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-garbage").FullName;

    public void Dispose()
    {
        _ps.Dispose();
        Directory.Delete(_dir, true);
    }

    private static string Ids(PowerShellSession.Result r) => string.Join("; ", r.Errors.Select(x => x.FullyQualifiedErrorId));

    private string Samples(string name, float value, int count = 4)
    {
        var data = new float[count * 784];
        Array.Fill(data, value);
        string path = Path.Combine(_dir, name);
        NpyWriter.Write(path, new NamedTensor(null, data, new long[] { count, 1, 28, 28 }));
        return path;
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteSamplesAreErrorsNotRanges(float value)
    {
        var r = _ps.Run("Measure-Calibration -Model $args[0] -InputPath $args[1] -BatchSize 2", TestData.Require(TestData.FashionCnn), Samples("bad.npy", value));
        Assert.Empty(r.Output);
        Assert.Contains(r.Errors, e => e.FullyQualifiedErrorId.StartsWith("MeasureCalibrationSampleNotFinite,", StringComparison.Ordinal));
        Assert.StartsWith("MeasureCalibrationNoUsableSamples,", r.Errors[^1].FullyQualifiedErrorId);
    }

    [Fact]
    public void GoodSamplesNextToBadOnesAreCountedAndTheBadOnesAreErrors()
    {
        var r = _ps.Run("Measure-Calibration -Model $args[0] -InputPath $args[1], $args[2] -BatchSize 2 -ErrorAction SilentlyContinue",
            TestData.Require(TestData.FashionCnn), Samples("bad.npy", float.NaN, 2), Samples("good.npy", 0.5f, 2));
        var table = Assert.Single(r.Objects<CalibrationTable>());
        Assert.Equal(2, table.SampleCount);
        Assert.True(table.ErrorCount > 0, "the NaN samples were not counted as errors");
        Assert.All(table.Ranges, x => Assert.True(float.IsFinite(x.RangeMin) && float.IsFinite(x.RangeMax)));
    }

    [Fact]
    public void NaNWeightsGiveAWarningAndNoMadeUpRanges()
    {
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestData.Require(TestData.FashionCnn)));
        var w = proto.Graph.Initializer.First(t => t.Dims.Count == 4);
        var values = new float[w.RawData.Length / 4];
        Array.Fill(values, float.NaN);
        w.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        string model = Path.Combine(_dir, "nan.onnx");
        File.WriteAllBytes(model, proto.ToByteArray());

        var r = _ps.Run("Measure-Calibration -Model $args[0] -InputPath $args[1]", model, TestData.Require(TestData.FashionCalib));
        var table = Assert.Single(r.Objects<CalibrationTable>());
        Assert.Contains(r.Warnings, x => x.Contains("NaN or infinite", StringComparison.Ordinal));
        Assert.DoesNotContain(table.Ranges, x => x.ElementCount == 0 && x.NonFiniteCount > 0);
        Assert.Contains(table.Skipped, s => s.Reason.StartsWith("only NaN", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("unknown-op")]
    [InlineData("unknown-type")]
    public void DynamicRefusesAModelOnnxRuntimeCannotLoad(string kind)
    {
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestData.Require(TestData.FashionCnn)));
        if (kind == "unknown-op") proto.Graph.Node.First(n => n.OpType is "Relu" or "Clip" or "Add").OpType = "NoSuchOperator";
        else proto.Graph.Output[0].Type.TensorType.ElemType = 999;
        string model = Path.Combine(_dir, kind + ".onnx");
        File.WriteAllBytes(model, proto.ToByteArray());
        string output = Path.Combine(_dir, "out.onnx");
        var r = _ps.Run("Invoke-Quantization -Model $args[0] -Dynamic -Path $args[1]", model, output);
        Assert.Empty(r.Output);
        Assert.True(r.Errors.Count == 1, Ids(r));
        Assert.Contains(r.Errors[0].FullyQualifiedErrorId.Split(',')[0], new[] { "InvokeQuantizationModelNotRunnable", "InvokeQuantizationModelInvalid" });
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void SkipRuntimeCheckWritesWhatOnnxRuntimeWouldHaveRefused()
    {
        // The user's choice: without the check, a model ONNX Runtime cannot load is written as quantized.
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestData.Require(TestData.FashionCnn)));
        proto.Graph.Node.First(n => n.OpType is "Relu" or "Clip" or "Add").OpType = "NoSuchOperator";
        string model = Path.Combine(_dir, "skip-check.onnx");
        File.WriteAllBytes(model, proto.ToByteArray());
        string output = Path.Combine(_dir, "skip-check-out.onnx");
        var r = _ps.Run("Invoke-Quantization -Model $args[0] -Dynamic -Path $args[1] -SkipRuntimeCheck -Verbose", model, output);
        Assert.True(r.Errors.Count == 0, Ids(r));
        Assert.True(File.Exists(output));
        Assert.Contains(r.Verbose, v => v.Contains("-SkipRuntimeCheck", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(".pb")]
    [InlineData(".npz")]
    public void ATensorNamedAfterNoInputIsRefused(string ext)
    {
        var data = new float[784];
        var t = new NamedTensor("not_an_input", data, new long[] { 1, 1, 28, 28 });
        string path = Path.Combine(_dir, "sample" + ext);
        if (ext == ".pb") TensorProtoFile.Write(path, t);
        else NpzWriter.Write(path, new[] { t });
        var r = _ps.Run("Measure-Calibration -Model $args[0] -InputPath $args[1]", TestData.Require(TestData.FashionCnn), path);
        Assert.Empty(r.Output);
        Assert.True(r.Errors[0].FullyQualifiedErrorId.StartsWith("MeasureCalibrationSampleMismatch,", StringComparison.Ordinal), Ids(r));
        Assert.Contains("not_an_input", r.Errors[0].Exception.Message);
    }

    [Fact]
    public void ATensorNamedAfterTheInputOrUnnamedStillBinds()
    {
        string input = EvoQuant.Onnx.OnnxModel.Load(TestData.Require(TestData.FashionCnn)).Proto.Graph.Input[0].Name;
        var data = new float[784];
        string named = Path.Combine(_dir, "named.pb");
        TensorProtoFile.Write(named, new NamedTensor(input, data, new long[] { 1, 1, 28, 28 }));
        string positional = Path.Combine(_dir, "positional.npz");
        NpzWriter.Write(positional, new[] { new NamedTensor("arr_0", data, new long[] { 1, 1, 28, 28 }) });
        var r = _ps.Run("Measure-Calibration -Model $args[0] -InputPath $args[1], $args[2]", TestData.FashionCnn, named, positional);
        Assert.True(r.Errors.Count == 0, Ids(r));
        Assert.Equal(2, Assert.Single(r.Objects<CalibrationTable>()).SampleCount);
    }
}
