using EvoQuant.Quantization;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>Issue 21 in small, through the cmdlets: a model with external data keeps it, -ExternalData
/// Never makes one file, progress has percentages, and -Verbose speaks of the mode that ran.</summary>
public sealed class ExternalDataCmdletTests : IDisposable
{
    private const int Width = 64, Blocks = 4;
    private readonly PowerShellSession _ps = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-psextdata").FullName;

    public void Dispose()
    {
        _ps.Dispose();
        Directory.Delete(_dir, true);
    }

    [Fact]
    public void DynamicQuantizationReportsPercentagesAndGroupsTheNodesItKeeps()
    {
        string model = LargeModelFile.Write(Path.Combine(_dir, "in"), Blocks, Width);
        string output = Path.Combine(_dir, "q.onnx");
        var r = _ps.Run("Invoke-Quantization -Model $args[0] -Dynamic -Path $args[1] -Verbose", model, output);
        Assert.Empty(r.Errors);
        Assert.True(File.Exists(output + ".data"), "the input had external data; the output keeps it");
        var percents = r.Progress.Where(p => p.StatusDescription.Contains("Rewriting")).Select(p => p.PercentComplete).ToList();
        Assert.Contains(0, percents);
        Assert.Contains(percents, p => p >= 90 && p <= 100);
        Assert.Equal(percents.Order(), percents); // only forward
        // One line per reason (4 Add, 4 Relu), in the words of dynamic quantization.
        var kept = r.Verbose.Where(v => v.StartsWith("Kept in float")).ToList();
        Assert.Equal(2, kept.Count);
        Assert.All(kept, v => Assert.Contains($"{Blocks} ", v));
        Assert.All(kept, v => Assert.Contains("by dynamic quantization", v));
        Assert.DoesNotContain(r.Verbose, v => v.Contains("QOperator"));
        var result = Assert.Single(r.Objects<QuantizationResult>());
        Assert.Equal(new FileInfo(model).Length + new FileInfo(model + ".data").Length, result.FileSizeBefore);
        Assert.InRange(result.SizeRatio, 1.5, 4.1); // 4 KiB alignment of tiny tensors in the data file costs a little
    }

    [Fact]
    public void StreamedWeightsLeaveNoTemporaryFileAndWhatIfWritesNothing()
    {
        // 512 x 512 weights: their int8 copies (256 KiB) go to a temporary file next to the output as they are made.
        string model = LargeModelFile.Write(Path.Combine(_dir, "in"), blocks: 2, width: 512);
        string folder = Path.Combine(_dir, "out"), output = Path.Combine(folder, "q.onnx");
        var whatIf = _ps.Run("Invoke-Quantization -Model $args[0] -Dynamic -Path $args[1] -WhatIf", model, output);
        Assert.Empty(whatIf.Errors);
        Assert.False(Directory.Exists(folder));

        var r = _ps.Run("Invoke-Quantization -Model $args[0] -Dynamic -Path $args[1]", model, output);
        Assert.Empty(r.Errors);
        Assert.Equal(new[] { "q.onnx", "q.onnx.data" }, Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var result = Assert.Single(r.Objects<QuantizationResult>());
        using var file = EvoQuant.Onnx.RuntimeModelFile.For(result.Model);
        Assert.Null(RuntimeVerifier.TryRun(file));
    }

    [Fact]
    public void ExternalDataNeverWritesOneFile()
    {
        string model = LargeModelFile.Write(Path.Combine(_dir, "in"), Blocks, Width);
        string output = Path.Combine(_dir, "q.onnx");
        var r = _ps.Run("Invoke-Quantization -Model $args[0] -Dynamic -Path $args[1] -ExternalData Never", model, output);
        Assert.Empty(r.Errors);
        Assert.False(File.Exists(output + ".data"));
        var result = Assert.Single(r.Objects<QuantizationResult>());
        Assert.Equal(new FileInfo(output).Length, result.FileSizeAfter);
    }
}
