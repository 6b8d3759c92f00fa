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
        $cal = Get-Item $FashionCalib | Measure-Calibration -Model $m -Method Entropy
        $out = Join-Path $TestDrive 'fashion-cnn.int8.onnx'
        $q = $m | Invoke-Quantization -Calibration $cal -Format QDQ -PerChannel -Path $out
        $r = Compare-QuantAccuracy -Reference $m -Candidate $q -InputPath $FashionTestX -Label $Labels

        Test-Path $out | Should -BeTrue
        (Get-Item $out).Length | Should -BeLessThan ((Get-Item $FashionModel).Length / 2)
        $r.ReferenceAccuracy | Should -BeGreaterThan 0.91
        ($r.ReferenceAccuracy - $r.CandidateAccuracy) | Should -BeLessThan 0.01
    }

    It 'dynamic quantization needs no calibration data' {
        $out = Join-Path $TestDrive 'fashion-cnn.dyn.onnx'
        $q = Get-OnnxGraph $FashionModel | Invoke-Quantization -Dynamic -Path $out
        $q.Model.QuantizationFormat | Should -Not -Be 'None'
    }

    It 'calibration saved to a file and merged from shards quantizes the same way' {
        $file = Join-Path $TestDrive 'calib.json'
        $a = Measure-Calibration -Model $FashionModel -InputPath $FashionTestDataSet
        $b = Measure-Calibration -Model $FashionModel -InputPath $FashionCalib
        Measure-Calibration -Model $FashionModel -Merge $a, $b -OutFile $file | Out-Null
        Test-Path $file | Should -BeTrue
        $q = Invoke-Quantization -Model $FashionModel -Calibration $file -Path (Join-Path $TestDrive 'merged.int8.onnx')
        $q.QuantizedNodes.Count | Should -BeGreaterThan 0
    }

    It '-WhatIf anywhere in the pipeline writes nothing' {
        $out = Join-Path $TestDrive 'never.onnx'
        Get-OnnxGraph $FashionModel | Invoke-Quantization -Dynamic -Path $out -WhatIf
        Test-Path $out | Should -BeFalse
    }

    It 'every cmdlet has help with examples' {
        foreach ($c in Get-Command -Module EvoQuant) {
            (Get-Help $c.Name -Examples).examples.example.Count | Should -BeGreaterOrEqual 2 -Because $c.Name
        }
    }
}
