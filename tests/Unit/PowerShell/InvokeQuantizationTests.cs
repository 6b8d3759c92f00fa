using System.Management.Automation;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>Invoke-Quantization through the hosted engine: real models, real files, safety rules.</summary>
public sealed class InvokeQuantizationTests : IDisposable
{
    private readonly PowerShellSession _ps = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-iq").FullName;

    public void Dispose()
    {
        _ps.Dispose();
        Directory.Delete(_dir, true);
    }

    private const string Calibrate = "$cal = Measure-Calibration -Model $args[0] -InputPath $args[1] -Method Percentile -Symmetric:$false;";

    [Fact]
    public void StaticQdqPerChannelWritesAModelThatLoadsAndSaysWhatItDid()
    {
        string output = Path.Combine(_dir, "fashion.int8.onnx");
        var r = _ps.Run(Calibrate + "Get-OnnxGraph $args[0] | Invoke-Quantization -Calibration $cal -PerChannel -Path $args[2] -Verbose",
            TestData.FashionCnn, TestData.FashionCalib, output);
        Assert.Empty(r.Errors);
        var result = Assert.Single(r.Objects<QuantizationResult>());
        Assert.Equal(output, result.Path);
        Assert.True(File.Exists(output));
        Assert.Equal(16, result.QuantizedByOpType["Conv"]);
        // The size bar itself is the quantizer's (tests/Unit/Quantization); here: the report tells the truth.
        Assert.Equal(new FileInfo(output).Length, result.FileSizeAfter);
        Assert.Equal(new FileInfo(TestData.FashionCnn).Length, result.FileSizeBefore);
        Assert.Equal((double)result.FileSizeBefore / result.FileSizeAfter, result.SizeRatio, 6);
        Assert.True(result.SizeRatio > 1.5, $"file only {result.SizeRatio:N2}x smaller");
        var back = OnnxModel.Load(output);
        Assert.Equal(QuantizationFormat.QDQ, back.QuantizationFormat);
        Assert.Contains(r.Verbose, v => v.Contains("Quantized 16 Conv"));
    }

    [Fact]
    public void DynamicNeedsNoCalibration()
    {
        string output = Path.Combine(_dir, "dyn.onnx");
        var r = _ps.Run("Invoke-Quantization -Model $args[0] -Dynamic -Path $args[1]", TestData.FashionCnn, output);
        Assert.Empty(r.Errors);
        var result = Assert.Single(r.Objects<QuantizationResult>());
        Assert.Equal(QuantMode.Dynamic, result.Mode);
        Assert.True(OnnxModel.Load(output).IsQuantized);
    }

    [Fact]
    public void WhatIfWritesNothing()
    {
        string output = Path.Combine(_dir, "whatif.onnx");
        var r = _ps.Run(Calibrate + "Invoke-Quantization -Model $args[0] -Calibration $cal -Path $args[2] -WhatIf", TestData.FashionCnn, TestData.FashionCalib, output);
        Assert.Empty(r.Errors);
        Assert.Empty(r.Objects<QuantizationResult>());
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void TheInputIsNeverOverwrittenAndAnExistingOutputOnlyWithForce()
    {
        string input = Path.Combine(_dir, "in.onnx");
        File.Copy(TestData.FashionCnn, input);
        byte[] before = File.ReadAllBytes(input);
        var same = _ps.Run("Invoke-Quantization -Model $args[0] -Dynamic -Path $args[0] -Force", input);
        Assert.StartsWith("InvokeQuantizationOutputIsInput,", Assert.Single(same.Errors).FullyQualifiedErrorId);
        Assert.Equal(before, File.ReadAllBytes(input));

        string existing = Path.Combine(_dir, "existing.onnx");
        File.WriteAllText(existing, "keep");
        var noForce = _ps.Run("Invoke-Quantization -Model $args[0] -Dynamic -Path $args[1]", input, existing);
        var e = Assert.Single(noForce.Errors);
        Assert.StartsWith("InvokeQuantizationOutputExists,", e.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ResourceExists, e.CategoryInfo.Category);
        Assert.Equal("keep", File.ReadAllText(existing));
        var force = _ps.Run("Invoke-Quantization -Model $args[0] -Dynamic -Path $args[1] -Force", input, existing);
        Assert.Empty(force.Errors);
        Assert.True(OnnxModel.Load(existing).IsQuantized);
    }

    [Fact]
    public void StaticWithoutCalibrationAndInvalidCombinationsAreRefusedUpFront()
    {
        string output = Path.Combine(_dir, "x.onnx");
        var noCal = _ps.Run("Invoke-Quantization -Model $args[0] -Path $args[1]", TestData.FashionCnn, output);
        Assert.StartsWith("InvokeQuantizationInvalidArgument,", Assert.Single(noCal.Errors).FullyQualifiedErrorId);
        Assert.Contains("-Calibration", noCal.Errors[0].Exception.Message);

        var qop16 = _ps.Run(Calibrate + "Invoke-Quantization -Model $args[0] -Calibration $cal -Format QOperator -ActivationType QInt16 -Path $args[2]",
            TestData.FashionCnn, TestData.FashionCalib, output);
        var e = Assert.Single(qop16.Errors);
        Assert.StartsWith("InvokeQuantizationInvalidOptions,", e.FullyQualifiedErrorId);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void ExcludedNodesStayFloatAndAreListedWithTheReason()
    {
        string output = Path.Combine(_dir, "excl.onnx");
        var r = _ps.Run(Calibrate + "Invoke-Quantization -Model $args[0] -Calibration $cal -ExcludeNode '*Gemm*' -Path $args[2]",
            TestData.FashionCnn, TestData.FashionCalib, output);
        Assert.Empty(r.Errors);
        var result = Assert.Single(r.Objects<QuantizationResult>());
        Assert.Contains(result.Skipped, s => s.OpType == "Gemm");
        Assert.False(result.QuantizedByOpType.ContainsKey("Gemm"));
    }

    [Fact]
    public void ATruncatedModelIsAnErrorRecord()
    {
        string bad = Path.Combine(_dir, "bad.onnx");
        File.WriteAllBytes(bad, File.ReadAllBytes(TestData.FashionCnn)[..4000]);
        var r = _ps.Run("Invoke-Quantization -Model $args[0] -Dynamic -Path $args[1]", bad, Path.Combine(_dir, "o.onnx"));
        var e = Assert.Single(r.Errors);
        Assert.Equal(ErrorCategory.InvalidData, e.CategoryInfo.Category);
        Assert.Contains("bad.onnx", e.Exception.Message);
    }
}
