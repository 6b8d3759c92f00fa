using EvoQuant.Targets;
using EvoQuant.Data;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>Compare-QuantAccuracy and the accuracy-driven mode of Invoke-Quantization through the hosted engine.</summary>
public sealed class CompareQuantAccuracyTests : IDisposable
{
    private readonly PowerShellSession _ps = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-cqa").FullName;
    private readonly string _x, _y;
    private const int Rows = 400;

    public CompareQuantAccuracyTests()
    {
        // The first 400 labelled test images, as files a user would pipe.
        var x = NpyReader.Read(TestData.Require(TestData.FashionTestX));
        var y = NpyReader.Read(TestData.Require(TestData.FashionTestY));
        _x = Path.Combine(_dir, "x.npy");
        _y = Path.Combine(_dir, "y.npy");
        NpyWriter.Write(_x, new NamedTensor(null, ((float[])x.Data)[..(Rows * 784)], new long[] { Rows, 1, 28, 28 }));
        NpyWriter.Write(_y, new NamedTensor(null, ((long[])y.Data)[..Rows], new long[] { Rows }));
    }

    public void Dispose()
    {
        _ps.Dispose();
        Directory.Delete(_dir, true);
    }

    private const string Quantize = @"
        $cal = Get-OnnxGraph $args[0] | Measure-Calibration -InputPath $args[1] -Method Percentile -Symmetric:$false
        $q = $cal | Invoke-Quantization -PerChannel -Path $args[2]";

    [Fact]
    public void ThePipelineReportsAccuracyThatMatchesAnIndependentCount()
    {
        string output = Path.Combine(_dir, "q.onnx");
        var r = _ps.Run(Quantize + "\n$q | Compare-QuantAccuracy -InputPath $args[3] -Label $args[4]",
            TestData.FashionCnn, TestData.FashionCalib, output, _x, _y);
        Assert.Empty(r.Errors);
        var report = Assert.Single(r.Objects<AccuracyReport>());

        // Independent count: ORT directly, argmax, labels.
        double Accuracy(string model)
        {
            var x = (float[])NpyReader.Read(_x).Data;
            var y = (long[])NpyReader.Read(_y).Data;
            using var s = new InferenceSession(model);
            using var res = s.Run(new[] { NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x, new[] { Rows, 1, 28, 28 })) });
            var logits = res.First().AsTensor<float>();
            int right = 0;
            for (int i = 0; i < Rows; i++)
            {
                int best = 0;
                for (int c = 1; c < 10; c++) if (logits[i, c] > logits[i, best]) best = c;
                if (best == y[i]) right++;
            }
            return 100.0 * right / Rows;
        }
        Assert.Equal(Accuracy(TestData.FashionCnn), report.Summary.ReferenceAccuracy!.Value, 6);
        Assert.Equal(Accuracy(output), report.Summary.CandidateAccuracy!.Value, 6);
        Assert.Equal(Rows, report.Summary.Rows);
        var logitsRow = Assert.Single(report.Outputs);
        Assert.Equal("logits", logitsRow.Output);
        Assert.True(logitsRow.Sqnr > 20, $"{logitsRow.Sqnr} dB");
    }

    /// <summary>A planted fault: one tensor's scale 100x too small. -PerTensor ranks its producer first, the
    /// suggestion names it, and quantizing again with the suggestion piped into -ExcludeNode recovers.</summary>
    [Fact]
    public void APlantedFaultIsFoundAndTheSuggestionPipesBack()
    {
        const string victim = "/blocks/blocks.1/project/project.0/Conv";
        var r = _ps.Run(@"
            $m = Get-OnnxGraph $args[0]
            $cal = Measure-Calibration -Model $m -InputPath $args[1] -Method Percentile -Symmetric:$false
            $t = ($m.Nodes | Where-Object Name -eq $args[4]).Outputs[0]
            $range = $cal[$t]
            $fault = @{ $t = @{ Scale = ($range.RangeMax - [Math]::Min($range.RangeMin, 0)) / 255 / 100 } }
            $bad = Invoke-Quantization -Model $m -Calibration $cal -PerChannel -TensorOverride $fault -Path ($args[5] + '/bad.onnx')
            $report = $bad | Compare-QuantAccuracy -InputPath $args[2] -Label $args[3] -PerTensor
            $fixed = Invoke-Quantization -Model $m -Calibration $cal -PerChannel -TensorOverride $fault -ExcludeNode $report.Suggestion.ExcludeNode -Path ($args[5] + '/fixed.onnx')
            $after = $fixed | Compare-QuantAccuracy -InputPath $args[2] -Label $args[3]
            $report; $after", TestData.FashionCnn, TestData.FashionCalib, _x, _y, victim, _dir);
        Assert.Empty(r.Errors);
        var reports = r.Objects<AccuracyReport>().ToList();
        Assert.Equal(2, reports.Count);
        var (bad, after) = (reports[0], reports[1]);
        Assert.Equal(victim, bad.Nodes[0].Node);
        Assert.Equal(victim, bad.Summary.WorstNode);
        Assert.Contains(victim, bad.Suggestion.ExcludeNode);
        Assert.True(bad.Summary.AccuracyDrop > 2, $"the fault should hurt: drop {bad.Summary.AccuracyDrop}");
        Assert.True(after.Summary.AccuracyDrop < 1, $"after excluding {string.Join(", ", bad.Suggestion.ExcludeNode)}: drop {after.Summary.AccuracyDrop}");
    }

    [Fact]
    public void AccuracyDrivenModeReachesTheTargetByKeepingNodesInFloat()
    {
        const string victim = "/blocks/blocks.1/project/project.0/Conv";
        var r = _ps.Run(@"
            $m = Get-OnnxGraph $args[0]
            $cal = Measure-Calibration -Model $m -InputPath $args[1] -Method Percentile -Symmetric:$false
            $t = ($m.Nodes | Where-Object Name -eq $args[4]).Outputs[0]
            $range = $cal[$t]
            $fault = @{ $t = @{ Scale = ($range.RangeMax - [Math]::Min($range.RangeMin, 0)) / 255 / 100 } }
            Invoke-Quantization -Model $m -Calibration $cal -PerChannel -TensorOverride $fault -TargetAccuracyDrop 1.0 `
                -ValidationData $args[2] -Label $args[3] -Path ($args[5] + '/driven.onnx') -Verbose",
            TestData.FashionCnn, TestData.FashionCalib, _x, _y, victim, _dir);
        Assert.Empty(r.Errors);
        var result = Assert.Single(r.Output);
        Assert.True((bool)result.Properties["TargetMet"].Value);
        var steps = ((IEnumerable<AccuracyDrivenStep>)result.Properties["AccuracySteps"].Value).ToList();
        Assert.True(steps.Count >= 2, "the first quantization should miss the target");
        Assert.False(steps[0].TargetMet);
        Assert.True(steps[^1].TargetMet);
        var excluded = (string[])result.Properties["ExcludedByAccuracySearch"].Value;
        Assert.Contains(victim, excluded);
        Assert.True(excluded.Length <= 5, $"excluded {excluded.Length} nodes: {string.Join(", ", excluded)}");
        Assert.Contains(r.Verbose, v => v.StartsWith("Step 1:"));
        Assert.True(OnnxModel.Load(Path.Combine(_dir, "driven.onnx")).IsQuantized);
    }

    [Fact]
    public void BothModelsAreTimedUnlessNoTiming()
    {
        var r = _ps.Run(Quantize + @"
            $q | Compare-QuantAccuracy -InputPath $args[3] -BatchSize 32 -Verbose
            $q | Compare-QuantAccuracy -InputPath $args[3] -NoTiming",
            TestData.FashionCnn, TestData.FashionCalib, Path.Combine(_dir, "q.onnx"), _x);
        Assert.Empty(r.Errors);
        var reports = r.Objects<AccuracyReport>().ToList();
        Assert.Equal(2, reports.Count);
        var speed = reports[0].Speed;
        Assert.NotNull(speed);
        Assert.Equal(1, speed!.Latency.BatchSize);
        Assert.Equal(32, speed.Throughput.BatchSize); // -BatchSize is the throughput batch
        Assert.True(speed.Throughput.Pairs >= 5 && speed.Latency.Pairs >= 5);
        Assert.True(speed.Throughput.Reference.Median > 0 && speed.Throughput.Candidate.Median > 0);
        Assert.Equal(speed.Throughput.Reference.Median / speed.Throughput.Candidate.Median, speed.Speedup, 12);
        Assert.Contains(r.Verbose, v => v.StartsWith("Timing on ", StringComparison.Ordinal) && v.Contains(HostCpu.Current.Model, StringComparison.Ordinal));
        Assert.Contains(r.Verbose, v => v.StartsWith("Batch 1, ", StringComparison.Ordinal));
        Assert.Contains(r.Verbose, v => v.StartsWith("Batch 32, ", StringComparison.Ordinal));
        Assert.Null(reports[1].Speed);
    }

    [Fact]
    public void TheHtmlReportIsWrittenUnlessWhatIf()
    {
        string html = Path.Combine(_dir, "report.html"), skipped = Path.Combine(_dir, "skipped.html");
        var r = _ps.Run(Quantize + @"
            $q | Compare-QuantAccuracy -InputPath $args[3] -Label $args[4] -PerTensor -Report $args[5] -Calibration $cal
            $q | Compare-QuantAccuracy -InputPath $args[3] -PerTensor -Report $args[6] -WhatIf",
            TestData.FashionCnn, TestData.FashionCalib, Path.Combine(_dir, "q.onnx"), _x, _y, html, skipped);
        Assert.Empty(r.Errors);
        Assert.Equal(2, r.Objects<AccuracyReport>().Count());
        Assert.False(File.Exists(skipped));
        string text = File.ReadAllText(html);
        Assert.Contains("<svg", text);
        Assert.Contains("Speed on this machine", text); // timed by default
        Assert.Contains(System.Net.WebUtility.HtmlEncode(HostCpu.Current.Model), text);
        Assert.DoesNotContain("http://", text.Replace("http://www.w3.org/2000/svg", ""));
        Assert.DoesNotContain("<script src", text);
    }

    [Fact]
    public void MissingCandidateOrSamplesAreTerminatingErrorsWithStableIds()
    {
        var noSamples = _ps.Run("Compare-QuantAccuracy -Reference $args[0] -Candidate $args[0]", TestData.FashionCnn);
        Assert.StartsWith("CompareQuantAccuracyNoSamples,", Assert.Single(noSamples.Errors).FullyQualifiedErrorId);
        var noCandidate = _ps.Run("Compare-QuantAccuracy -Reference $args[0] -InputPath $args[1]", TestData.FashionCnn, _x);
        Assert.StartsWith("CompareQuantAccuracyNoCandidate,", Assert.Single(noCandidate.Errors).FullyQualifiedErrorId);
        var badLabels = _ps.Run("Compare-QuantAccuracy -Reference $args[0] -Candidate $args[0] -InputPath $args[1] -Label @(1,2,3)", TestData.FashionCnn, _x);
        Assert.Single(badLabels.Errors);
    }
}
