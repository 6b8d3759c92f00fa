#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# End to end on the Fashion-MNIST CNN in ../shared/models (relative to the repository): the pipeline of
# the README and about_EvoQuant.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Labels = Read-NpyInt64 $FashionTestY
}

Describe 'EvoQuant workflow' {
    It 'Get-OnnxGraph | Measure-Calibration | Invoke-Quantization | Compare-QuantAccuracy keeps top-1 within a point' {
        $m = Get-OnnxGraph $FashionModel
        $cal = $FashionCalib | Measure-Calibration -Model $m -Method Entropy
        $out = Join-Path $TestDrive 'fashion-cnn.int8.onnx'
        $q = $m | Invoke-Quantization -Calibration $cal -Format QDQ -PerChannel -Path $out
        $r = Compare-QuantAccuracy -Reference $m -Candidate $q -InputPath $FashionTestX -Label $Labels

        Test-Path $out | Should -BeTrue
        $q.FileSizeAfter | Should -BeLessThan ($q.FileSizeBefore * 0.7)
        $r | Should -BeOfType ([EvoQuant.Evaluation.AccuracyReport])
        $r.Summary.Rows | Should -Be 2000
        $r.Summary.ReferenceAccuracy | Should -Be 91.25   # percent: README of ../shared/models
        $r.Summary.AccuracyDrop | Should -BeLessThan 1    # percentage points
    }

    It 'dynamic quantization needs no calibration data' {
        $out = Join-Path $TestDrive 'fashion-cnn.dyn.onnx'
        $q = Get-OnnxGraph $FashionModel | Invoke-Quantization -Dynamic -Path $out -ErrorAction Stop
        $q.Model.QuantizationFormat | Should -Not -Be 'None'
    }

    It 'Invoke-Quantization -Dynamic | Compare-QuantAccuracy compares with the float model the result came from' {
        $out = Join-Path $TestDrive 'fashion-cnn.dyn-compare.onnx'
        $r = Invoke-Quantization -Model $FashionModel -Dynamic -Path $out -ErrorAction Stop |
            Compare-QuantAccuracy -InputPath $FashionTestX -Label $Labels -NoTiming -ErrorAction Stop
        $r | Should -BeOfType ([EvoQuant.Evaluation.AccuracyReport])
        $r.Summary.Reference | Should -Be (Get-Item $FashionModel).FullName
        $r.Summary.Candidate | Should -Be $out
        $r.Summary.Rows | Should -Be 2000
        $r.Summary.ReferenceAccuracy | Should -Be 91.25   # the float model's figure: it really is the reference
        [math]::Abs($r.Summary.AccuracyDrop) | Should -BeLessThan 1
        $r.Outputs[0].Sqnr | Should -BeGreaterThan 20
    }

    It 'calibration saved to a file and merged from shards quantizes the same way' {
        $file = Join-Path $TestDrive 'calib.json'
        $shard = Measure-Calibration -Model $FashionModel -InputPath $FashionTestDataSet
        $shard | Export-CalibrationTable -Path (Join-Path $TestDrive 'shard.json')
        $parts = Import-CalibrationTable (Join-Path $TestDrive 'shard.json')
        $merged = Measure-Calibration -Model $FashionModel -InputPath $FashionCalib -Merge $parts -OutFile $file
        $merged.SampleCount | Should -Be 208
        Test-Path $file | Should -BeTrue
        $q = Invoke-Quantization -Model $FashionModel -Calibration $file -Path (Join-Path $TestDrive 'merged.int8.onnx')
        $q.QuantizedByOpType['Conv'] | Should -Be 16
    }

    It 'accuracy-driven: compare per tensor, exclude the suggested nodes, quantize again' {
        $m = Get-OnnxGraph $FashionModel
        $cal = Measure-Calibration -Model $m -InputPath $FashionCalib
        $q = Invoke-Quantization -Model $m -Calibration $cal -Path (Join-Path $TestDrive 'first.onnx')
        $r = $q | Compare-QuantAccuracy -InputPath $FashionTestDataSet -PerTensor -TargetSqnr 40
        $r.Suggestion.ExcludeNode.Count | Should -BeGreaterThan 0
        $again = Invoke-Quantization -Model $m -Calibration $cal -Path (Join-Path $TestDrive 'second.onnx') -ExcludeNode $r.Suggestion.ExcludeNode
        foreach ($n in $r.Suggestion.ExcludeNode) { $again.QuantizedNodes.Name | Should -Not -Contain $n }
        $r2 = $again | Compare-QuantAccuracy -InputPath $FashionTestDataSet
        $r2.Summary.MinOutputSqnr | Should -BeGreaterOrEqual ($r.Summary.MinOutputSqnr - 0.5)
    }

    It '-WhatIf anywhere in the pipeline writes nothing' {
        $out = Join-Path $TestDrive 'never.onnx'
        $cal = Measure-Calibration -Model $FashionModel -InputPath $FashionTestDataSet
        Get-OnnxGraph $FashionModel | Invoke-Quantization -Calibration $cal -Path $out -WhatIf
        Test-Path $out | Should -BeFalse
    }

    It 'every cmdlet has help with examples' {
        foreach ($c in Get-Command -Module EvoQuant) {
            (Get-Help $c.Name -Examples).examples.example.Count | Should -BeGreaterOrEqual 2 -Because $c.Name
        }
    }
}
