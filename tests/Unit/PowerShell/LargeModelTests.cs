using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>Issue 21: a generated float model just over 2 GiB of weights (external data) through the four
/// cmdlets. Full tier only (category TestData): it writes about 3 GB to a temporary folder, removed after.</summary>
[Trait("Category", "TestData")]
public sealed class LargeModelTests : IDisposable
{
    // 33 x (4096 x 4096 + 4096) float32: 2,215,247,872 bytes of weights, past 2^31.
    private const int Blocks = 33, Width = 4096;
    private readonly PowerShellSession _ps = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-large").FullName;

    public void Dispose()
    {
        _ps.Dispose();
        Directory.Delete(_dir, true);
    }

    [Fact]
    public void AModelOverTwoGiBGoesThroughTheFourCmdlets()
    {
        Assert.True(LargeModelFile.WeightBytes(Blocks, Width) > int.MaxValue);
        string model = LargeModelFile.Write(Path.Combine(_dir, "model"), Blocks, Width);
        string samples = Path.Combine(_dir, "x.npy");
        NpyWriter.Write(samples, LargeModelFile.Input(16, Width));
        string qdq = Path.Combine(_dir, "out", "large.qdq.onnx"), dyn = Path.Combine(_dir, "out", "large.dyn.onnx");

        var r = _ps.Run("""
            $m = Get-OnnxGraph $args[0]
            $cal = $m | Measure-Calibration -InputPath $args[1] -Method MinMax
            $q = Invoke-Quantization -Model $m -Calibration $cal -Path $args[2]
            $d = Invoke-Quantization -Model $m -Dynamic -Path $args[3] -Verbose
            $report = $q | Compare-QuantAccuracy -Reference $m -InputPath $args[1]
            $m, $cal, $q, $d, $report
            """, model, samples, qdq, dyn);
        Assert.Empty(r.Errors);
        var graph = Assert.Single(r.Objects<OnnxModel>());
        Assert.Equal(LargeModelFile.WeightBytes(Blocks, Width), graph.WeightBytes);
        var table = Assert.Single(r.Objects<CalibrationTable>());
        Assert.NotNull(table[$"/blocks.{Blocks - 1}/MatMul_output_0"]);
        var results = r.Objects<QuantizationResult>().ToList();
        Assert.Equal(2, results.Count);
        foreach (var (result, path) in results.Zip(new[] { qdq, dyn }))
        {
            // The input kept its weights in a data file; so does each output, and the sizes count both sides.
            Assert.True(File.Exists(path + ".data"), $"{path}.data");
            Assert.Equal(new FileInfo(path).Length + new FileInfo(path + ".data").Length, result.FileSizeAfter);
            Assert.Equal(graph.SizeOnDisk, result.FileSizeBefore);
            Assert.InRange(result.SizeRatio, 3.5, 4.1);
        }
        // A dynamic run speaks of dynamic quantization, not of the QOperator format.
        Assert.DoesNotContain(r.Verbose, v => v.Contains("QOperator"));
        var report = Assert.Single(r.Objects<AccuracyReport>());
        Assert.True(report.Summary.MinOutputSqnr > 15, $"SQNR {report.Summary.MinOutputSqnr}");
        // Nothing left next to the input: temporary runtime models are removed.
        Assert.Equal(new[] { "large.onnx", "large.onnx.data" }, Directory.GetFiles(Path.GetDirectoryName(model)!).Select(Path.GetFileName).Order());
    }
}
