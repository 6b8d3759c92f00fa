#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:CommandId = ',EvoQuant.PowerShell.Commands.InvokeQuantizationCommand'
    $script:Table = Measure-Calibration -Model $FashionModel -InputPath $FashionCalib -Method MinMax
}

Describe 'Invoke-Quantization -KeepSlowNodesFloat' {
    It 'profiles on this CPU and names what it decided (which nodes are slower depends on the CPU and its load)' {
        $out = Join-Path $TestDrive 'fashion.speed.onnx'
        $q = Invoke-Quantization -Model $FashionModel -Calibration $Table -KeepSlowNodesFloat -CalibrationData $FashionCalib -Path $out -Verbose -ErrorAction Stop 4>&1
        $result = $q | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        $verbose = @($q | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
        Test-Path $out | Should -BeTrue
        $result.TargetDecisions | Should -Contain ($result.TargetDecisions | Where-Object { $_ -like 'speed-aware: * at batch 1 and 64 on this CPU*' })
        $verbose | Where-Object { $_ -like 'Target: speed-aware: *' } | Should -Not -BeNullOrEmpty
        $verbose | Where-Object { $_ -like 'Quantizing *nodes slower quantized on this CPU kept float*' } | Should -Not -BeNullOrEmpty
        foreach ($d in $result.TargetDecisions | Where-Object { $_ -like 'kept float: *slower quantized*' }) {
            $name = ($d -replace '^kept float: ', '').Split(',')[0]
            $result.Skipped.Name | Should -Contain $name
        }
    }

    It 'writes nothing and profiles nothing with -WhatIf' {
        $out = Join-Path $TestDrive 'whatif.onnx'
        $r = Invoke-Quantization -Model $FashionModel -Calibration $Table -KeepSlowNodesFloat -Path $out -WhatIf
        $r | Should -BeNullOrEmpty
        Test-Path $out | Should -BeFalse
    }

    It 'refuses another -Target, with its own ErrorId, and writes nothing' {
        $out = Join-Path $TestDrive 'vnni.onnx'
        { Invoke-Quantization -Model $FashionModel -Calibration $Table -KeepSlowNodesFloat -Target X64Vnni -Path $out -ErrorAction Stop } |
            Should -Throw -ErrorId "InvokeQuantizationKeepSlowNodesFloatNeedsHostTarget$CommandId"
        Test-Path $out | Should -BeFalse
    }

    It 'is not a parameter of dynamic quantization' {
        { Invoke-Quantization -Model $FashionModel -Dynamic -KeepSlowNodesFloat -Path (Join-Path $TestDrive 'd.onnx') -ErrorAction Stop } |
            Should -Throw -ErrorId 'AmbiguousParameterSet,EvoQuant.PowerShell.Commands.InvokeQuantizationCommand'
    }
}

Describe 'Invoke-Quantization -MinimumSpeedup' {
    It 'ends the search unmet when no model can be that fast, and says so' {
        $out = Join-Path $TestDrive 'fast.onnx'
        $q = Invoke-Quantization -Model $FashionModel -Calibration $Table -MinimumSqnr 0 -MinimumSpeedup 1000 -ValidationData $FashionCalib -Path $out -WarningVariable w -WarningAction SilentlyContinue -ErrorAction Stop
        $q.TargetMet | Should -BeFalse
        @($q.AccuracySteps).Count | Should -Be 1
        $q.AccuracySteps[0].Speedup | Should -Not -BeNullOrEmpty
        ($w -join ' ') | Should -Match 'speedup >= 1000x'
        Test-Path $out | Should -BeTrue
    }
}
