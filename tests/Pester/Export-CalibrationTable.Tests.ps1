#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Table = Measure-Calibration -Model $FashionModel -InputPath $FashionTestDataSet -Method Entropy
}

Describe 'Export-CalibrationTable' {
    It 'writes JSON that Import-CalibrationTable reads back whole' {
        $file = Join-Path $TestDrive 'table.json'
        $Table | Export-CalibrationTable -Path $file
        Test-Path $file | Should -BeTrue
        $back = Import-CalibrationTable $file
        $back.SampleCount | Should -Be $Table.SampleCount
        $back.Settings.Method | Should -Be 'Entropy'
        $back.Count | Should -Be $Table.Count
        ($back.Ranges | Where-Object Tensor -eq 'input').RangeMax | Should -Be ($Table.Ranges | Where-Object Tensor -eq 'input').RangeMax
    }

    It 'keeps an Auto table''s choice per tensor and its error figures through JSON' {
        $auto = Measure-Calibration -Model $FashionModel -InputPath $FashionTestDataSet -Method Auto
        $file = Join-Path $TestDrive 'auto.json'
        $auto | Export-CalibrationTable -Path $file
        $back = Import-CalibrationTable $file
        $back.Settings.Method | Should -Be 'Auto'
        foreach ($r in $auto.Ranges) {
            $b = $back.Ranges | Where-Object Tensor -eq $r.Tensor
            $b.Method | Should -Be $r.Method
            $b.Method | Should -BeIn 'MinMax', 'Entropy', 'Percentile'
            $b.Candidates | Should -HaveCount 3
            $b.Choice | Should -Be $r.Choice
            $b.RangeMax | Should -Be $r.RangeMax
        }
    }

    It 'writes calibration.cache text, one "name max_abs" line per tensor, for a .cache path' {
        $file = Join-Path $TestDrive 'calibration.cache'
        Export-CalibrationTable -InputObject $Table -Path $file
        $lines = Get-Content $file
        $lines | Should -HaveCount $Table.Count
        $lines | ForEach-Object { $_ | Should -Match '^\S.* [0-9][0-9.eE+-]*$' }
        $row = $Table.Ranges | Where-Object Tensor -eq 'input'
        $lines | Should -Contain ('input ' + $row.AbsMax.ToString('R', [cultureinfo]::InvariantCulture))
    }

    It 'writes TensorRT''s own cache with -Format TensorRT' {
        $file = Join-Path $TestDrive 'model.trt.cache'
        Export-CalibrationTable -InputObject $Table -Path $file -Format TensorRT
        $lines = @(Get-Content $file)
        $lines[0] | Should -Match '^TRT-\d+-'
        $lines.Count | Should -Be ($Table.Count + 1)
        $lines[1..($lines.Count - 1)] | ForEach-Object { $_ | Should -Match ': [0-9a-f]{8}$' }
    }

    It 'returns the file with -PassThru' {
        $file = $Table | Export-CalibrationTable -Path (Join-Path $TestDrive 'pass.json') -PassThru
        $file | Should -BeOfType ([System.IO.FileInfo])
        $file.Length | Should -BeGreaterThan 0
    }

    It 'does not replace a file without -Force' {
        $file = Join-Path $TestDrive 'exists.json'
        Set-Content -Path $file -Value 'keep'
        { $Table | Export-CalibrationTable -Path $file -ErrorAction Stop } | Should -Throw -ErrorId 'ExportCalibrationTableOutputExists,EvoQuant.PowerShell.Commands.ExportCalibrationTableCommand'
        Get-Content $file | Should -Be 'keep'
        $Table | Export-CalibrationTable -Path $file -Force
        (Import-CalibrationTable $file).Count | Should -Be $Table.Count
    }

    It 'writes nothing with -WhatIf' {
        $file = Join-Path $TestDrive 'whatif.json'
        $Table | Export-CalibrationTable -Path $file -WhatIf
        Test-Path $file | Should -BeFalse
    }

    It 'has help with examples' {
        (Get-Help Export-CalibrationTable -Examples).examples.example.Count | Should -BeGreaterOrEqual 2
        (Get-Help Export-CalibrationTable -Parameter Path).description.Text | Should -Match '\.cache'
    }
}
