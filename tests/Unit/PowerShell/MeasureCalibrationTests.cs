using System.Management.Automation;
using EvoQuant.Calibration;
using EvoQuant.Data;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>Measure-Calibration through real pipelines of the hosted engine.</summary>
public sealed class MeasureCalibrationTests : IDisposable
{
    private readonly PowerShellSession _ps = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("evoquant-mc").FullName;

    public void Dispose()
    {
        _ps.Dispose();
        Directory.Delete(_dir, true);
    }

    // Shards of the 200 calibration images as separate .npy files (files are what users pipe).
    private string[] Shards(int count, int rowsEach)
    {
        var x = NpyReader.Read(TestData.Require(TestData.FashionCalib));
        var all = (float[])x.Data;
        int per = 28 * 28;
        var paths = new string[count];
        for (int i = 0; i < count; i++)
        {
            paths[i] = Path.Combine(_dir, $"calib{i}.npy");
            NpyWriter.Write(paths[i], new NamedTensor(null, all.AsSpan(i * rowsEach * per, rowsEach * per).ToArray(), new long[] { rowsEach, 1, 28, 28 }));
        }
        return paths;
    }

    [Fact]
    public void FilesFromThePipelineGiveATableThatPipesIntoInvokeQuantization()
    {
        var files = Shards(4, 50);
        var r = _ps.Run("$args[1] | Measure-Calibration -Model $args[0] -Method Entropy -Verbose", TestData.FashionCnn, files);
        Assert.Empty(r.Errors);
        var table = Assert.Single(r.Objects<CalibrationTable>());
        Assert.Equal(200, table.SampleCount);
        Assert.Equal(CalibrationMethod.Entropy, table.Settings.Method);
        Assert.True(table.Count > 30, $"only {table.Count} tensors calibrated");
        Assert.Contains(r.Verbose, v => v.StartsWith("Calibrating"));
        Assert.Contains(r.Verbose, v => v.StartsWith("12 histograms follow")); // 11 ReLU6 and the Flatten
        Assert.NotEmpty(r.Progress);

        // The same as Core computes from the whole file at once.
        var whole = Calibrator.Run(EvoQuant.Onnx.OnnxModel.Load(TestData.FashionCnn), new object[] { TestData.FashionCalib },
            new CalibrationOptions { Method = CalibrationMethod.Entropy });
        foreach (var row in whole.Ranges)
        {
            var mine = table[row.Tensor]!;
            Assert.Equal(row.Min, mine.Min);
            Assert.Equal(row.Max, mine.Max);
        }
    }

    [Fact]
    public void ModelCanComeFromGetOnnxGraphOnThePipeline()
    {
        var r = _ps.Run("Get-OnnxGraph $args[0] | Measure-Calibration -InputPath $args[1] -Method Percentile", TestData.FashionCnn, TestData.FashionCalib);
        Assert.Empty(r.Errors);
        var table = Assert.Single(r.Objects<CalibrationTable>());
        Assert.Equal(200, table.SampleCount);
        Assert.All(table.Ranges, row => Assert.Equal(-row.RangeMax, row.RangeMin)); // Percentile is symmetric by default
    }

    [Fact]
    public void AWrongShapeSampleIsAnErrorRecordAndTheOthersStillCount()
    {
        var good = Shards(2, 10);
        string bad = Path.Combine(_dir, "bad.npy");
        NpyWriter.Write(bad, new NamedTensor(null, new float[3 * 32 * 32], new long[] { 1, 3, 32, 32 }));
        var r = _ps.Run("$args[1] | Measure-Calibration -Model $args[0]", TestData.FashionCnn, new[] { good[0], bad, good[1] });
        var e = Assert.Single(r.Errors);
        Assert.StartsWith("MeasureCalibrationSampleMismatch,", e.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidData, e.CategoryInfo.Category);
        Assert.Contains("input", e.Exception.Message);
        Assert.Equal(20, Assert.Single(r.Objects<CalibrationTable>()).SampleCount);

        var stop = _ps.Run("try { $args[1] | Measure-Calibration -Model $args[0] -ErrorAction Stop; 'not reached' } catch { $_.FullyQualifiedErrorId }",
            TestData.FashionCnn, new[] { bad, good[0] });
        Assert.StartsWith("MeasureCalibrationSampleMismatch", Assert.Single(stop.Output).ToString());
    }

    [Fact]
    public void TablesFromShardsMergeIntoTheTableOfTheWhole()
    {
        var files = Shards(2, 100);
        var r = _ps.Run(@"
            $a = Measure-Calibration -Model $args[0] -InputPath $args[1] -Method Entropy -Bins 2048
            $b = Measure-Calibration -Model $args[0] -InputPath $args[2] -Method Entropy -Bins 2048 -Merge $a
            $whole = Measure-Calibration -Model $args[0] -InputPath $args[1], $args[2] -Method Entropy -Bins 2048
            $b; $whole", TestData.FashionCnn, files[0], files[1]);
        Assert.Empty(r.Errors);
        var tables = r.Objects<CalibrationTable>().ToList();
        Assert.Equal(2, tables.Count);
        Assert.Equal(tables[1].SampleCount, tables[0].SampleCount);
        foreach (var row in tables[1].Ranges)
        {
            var merged = tables[0][row.Tensor]!;
            Assert.Equal(row.Min, merged.Min);
            Assert.Equal(row.Max, merged.Max);
            Assert.Equal(row.RangeMin, merged.RangeMin);
            Assert.Equal(row.RangeMax, merged.RangeMax);
        }
    }

    [Fact]
    public void TablesExportAndImportAsJsonCacheTextAndTensorRtCache()
    {
        string json = Path.Combine(_dir, "t.json"), cache = Path.Combine(_dir, "calibration.cache"), trt = Path.Combine(_dir, "trt.cache");
        var r = _ps.Run(@"
            $t = Measure-Calibration -Model $args[0] -InputPath $args[1]
            $t | Export-CalibrationTable -Path $args[2]
            $t | Export-CalibrationTable -Path $args[3]
            $t | Export-CalibrationTable -Path $args[4] -Format TensorRT
            $t | Export-CalibrationTable -Path $args[2] -WhatIf
            $t | Export-CalibrationTable -Path $args[2] -ErrorAction SilentlyContinue -ErrorVariable e
            $e | ForEach-Object { $_.FullyQualifiedErrorId }
            Import-CalibrationTable $args[2], $args[3], $args[4]", TestData.FashionCnn, TestData.FashionCalib, json, cache, trt);
        Assert.StartsWith("ExportCalibrationTableOutputExists", r.Output.Select(o => o.ToString()).Single(s => s.Contains("OutputExists")));
        var tables = r.Objects<CalibrationTable>().ToList();
        Assert.Equal(3, tables.Count);
        Assert.True(tables[0].Count > 30);
        Assert.All(tables, t => Assert.Equal(tables[0].Count, t.Count));
        // calibration.cache: "<tensor> <max |x|>" per line, the table's own ranges.
        var lines = File.ReadAllLines(cache);
        Assert.Equal(tables[0].Count, lines.Length);
        foreach (var row in tables[0].Ranges)
            Assert.Contains($"{row.Tensor} {row.AbsMax.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}", lines);
        Assert.StartsWith("TRT-", File.ReadAllText(trt));
        foreach (var row in tables[0].Ranges)
        {
            Assert.Equal(row.AbsMax, tables[1][row.Tensor]!.AbsMax);
            Assert.Equal(row.AbsMax, tables[2][row.Tensor]!.AbsMax, 4);
        }
    }

    [Fact]
    [Trait("Category", "TestData")]
    public void EntropyCuttingSkewedActivationsTenfoldWarnsAndNamesThem()
    {
        // The OCR detector's ReLU outputs are mostly near zero: KL with 2048 bins cuts them 9-16x.
        var tiles = Path.Combine(_dir, "tiles.npy");
        var (x, shape) = EvoQuant.Tests.Quantization.Helpers.OcrData.PageTiles(Path.Combine(TestData.RepoRoot, ".testdata", "opencv", "imageTextR.png"));
        NpyWriter.Write(tiles, new NamedTensor("x", x, shape.Select(d => (long)d).ToArray()));
        var r = _ps.Run(@"
            Measure-Calibration -Model $args[0] -InputPath $args[1] -Method Entropy -Bins 2048 -BatchSize 1
            Measure-Calibration -Model $args[0] -InputPath $args[1] -Method MinMax -BatchSize 1", TestData.Require(TestData.OcrDet), tiles);
        var tables = r.Objects<CalibrationTable>().ToList();
        Assert.Equal(2, tables.Count);
        var warning = Assert.Single(r.Warnings);
        Assert.StartsWith("Entropy cut ", warning);
        Assert.Contains($"'{tables[0].HardCuts()[0].Tensor}'", warning);
        Assert.Contains("Compare-QuantAccuracy -PerTensor", warning);
        Assert.Empty(tables[1].HardCuts());
    }

    [Fact]
    public void NoSamplesIsATerminatingErrorWithAStableId()
    {
        var r = _ps.Run("Measure-Calibration -Model $args[0]", TestData.FashionCnn);
        Assert.StartsWith("MeasureCalibrationNoSamples", Assert.Single(r.Errors).FullyQualifiedErrorId);
    }

    [Fact]
    public void APipedFileIsReadOnceAndAMissingOneIsInputNotFound()
    {
        var r = _ps.Run("[System.IO.FileInfo]::new($args[1]) | Measure-Calibration -Model $args[0]", TestData.FashionCnn, TestData.FashionCalib);
        Assert.Empty(r.Errors);
        Assert.Equal(200, Assert.Single(r.Objects<CalibrationTable>()).SampleCount); // bound once, not also by FullName

        var missing = _ps.Run("Measure-Calibration -Model $args[0] -InputPath $args[1], $args[2]", TestData.FashionCnn, Path.Combine(_dir, "missing.npy"), TestData.FashionCalib);
        var e = missing.Errors.First();
        Assert.StartsWith("MeasureCalibrationInputNotFound,", e.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ObjectNotFound, e.CategoryInfo.Category);
        Assert.Equal(200, Assert.Single(missing.Objects<CalibrationTable>()).SampleCount); // the other path still counts
    }

    [Fact]
    public void ATinyMemoryBudgetCutsTheBatchesAndGivesTheSameTable()
    {
        var files = Shards(1, 64);
        var r = _ps.Run(@"
            Measure-Calibration -Model $args[0] -InputPath $args[1] -Method Entropy
            Measure-Calibration -Model $args[0] -InputPath $args[1] -Method Entropy -MaxOutputMemory 1MB", TestData.FashionCnn, files[0]);
        Assert.Empty(r.Errors);
        var tables = r.Objects<CalibrationTable>().ToList();
        Assert.Equal(2, tables.Count);
        Assert.Equal(tables[0].Count, tables[1].Count);
        foreach (var row in tables[0].Ranges)
        {
            var cut = tables[1][row.Tensor]!;
            Assert.Equal(row.RangeMin, cut.RangeMin);
            Assert.Equal(row.RangeMax, cut.RangeMax);
        }
    }
}
