#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Table = Measure-Calibration -Model $FashionModel -InputPath $FashionTestDataSet
    $script:Saved = Join-Path $TestDrive 'saved.json'
    $Table | Export-CalibrationTable -Path $Saved
}

Describe 'Import-CalibrationTable' {
    It 'loads a saved table that quantizes like the original' {
        $back = Import-CalibrationTable -Path $Saved
        $back | Should -BeOfType ([EvoQuant.Calibration.CalibrationTable])
        $a = Invoke-Quantization -Model $FashionModel -Calibration $Table -Path (Join-Path $TestDrive 'a.onnx')
        $b = Invoke-Quantization -Model $FashionModel -Calibration $back -Path (Join-Path $TestDrive 'b.onnx')
        $b.QuantizedNodes.Count | Should -Be $a.QuantizedNodes.Count
        (Get-Item (Join-Path $TestDrive 'b.onnx')).Length | Should -Be (Get-Item (Join-Path $TestDrive 'a.onnx')).Length
    }

    It 'takes files from Get-ChildItem and merges with Measure-Calibration -Merge' {
        Copy-Item $Saved (Join-Path $TestDrive 'shard2.json')
        $parts = Get-ChildItem (Join-Path $TestDrive 'sha*.json') | Import-CalibrationTable
        $parts | Should -HaveCount 1
        $merged = Measure-Calibration -Model $FashionModel -InputPath $FashionTestDataSet -Merge $parts
        $merged.SampleCount | Should -Be (2 * $Table.SampleCount)
    }

    It 'reads calibration.cache text and TensorRT caches, whatever their extension' {
        $cache = Join-Path $TestDrive 'calibration.cache'
        $trt = Join-Path $TestDrive 'trt.bin'
        $Table | Export-CalibrationTable -Path $cache
        $Table | Export-CalibrationTable -Path $trt -Format TensorRT
        (Import-CalibrationTable $cache).Count | Should -Be $Table.Count
        (Import-CalibrationTable $trt).Count | Should -Be $Table.Count
    }

    It 'reads calibration.cache text as ONNX Runtime''s tool writes it' {
        $ort = Join-Path $TestDrive 'ort.cache'
        Set-Content -Path $ort -Value @('input 2.7645000219345093', 'relu_out 6.0')
        $t = Import-CalibrationTable $ort
        ($t.Ranges | Where-Object Tensor -eq 'relu_out').RangeMax | Should -Be 6
        ($t.Ranges | Where-Object Tensor -eq 'relu_out').RangeMin | Should -Be -6
    }

    It 'reports a file that is not a table and goes on with the others' {
        $bad = Join-Path $TestDrive 'bad.json'
        Set-Content -Path $bad -Value '{ "not": "a table" }'
        $out = $bad, $Saved | Import-CalibrationTable -ErrorAction SilentlyContinue -ErrorVariable errs
        $out | Should -HaveCount 1
        $errs | Should -HaveCount 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'ImportCalibrationTableInvalidTable*'
    }

    It 'reports a missing file' {
        { Import-CalibrationTable (Join-Path $TestDrive 'missing.json') -ErrorAction Stop } |
            Should -Throw -ErrorId 'ImportCalibrationTableInputNotFound,EvoQuant.PowerShell.Commands.ImportCalibrationTableCommand'
    }

    It 'has help with examples' {
        (Get-Help Import-CalibrationTable -Examples).examples.example.Count | Should -BeGreaterOrEqual 2
    }
}
