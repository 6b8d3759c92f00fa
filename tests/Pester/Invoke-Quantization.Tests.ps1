#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Model = Get-OnnxGraph $FashionModel
    $script:Cal = Measure-Calibration -Model $Model -InputPath $FashionCalib
}

Describe 'Invoke-Quantization' {
    Context 'static and dynamic' {
        It 'writes a QDQ model that is smaller and loads' {
            $out = Join-Path $TestDrive 'fashion.qdq.onnx'
            $q = $Model | Invoke-Quantization -Calibration $Cal -Format QDQ -PerChannel -Path $out
            Test-Path $out | Should -BeTrue
            $q.Path | Should -Be $out
            $q.Model | Should -BeOfType ([EvoQuant.Onnx.OnnxModel])
            $q.QuantizedNodes.Count | Should -BeGreaterThan 0
            (Get-Item $out).Length | Should -BeLessThan ((Get-Item $FashionModel).Length / 2)
            (Get-OnnxGraph $out).QuantizationFormat | Should -Be 'QDQ'
        }

        It 'writes a QOperator model' {
            $out = Join-Path $TestDrive 'fashion.qop.onnx'
            Invoke-Quantization -Model $Model -Calibration $Cal -Format QOperator -Path $out | Out-Null
            (Get-OnnxGraph $out).QuantizationFormat | Should -Be 'QOperator'
        }

        It 'quantizes dynamically without calibration' {
            $out = Join-Path $TestDrive 'fashion.dyn.onnx'
            $q = Invoke-Quantization -Model $FashionModel -Dynamic -Path $out
            Test-Path $out | Should -BeTrue
            $q.Model.IsQuantized | Should -BeTrue
        }

        It 'leaves excluded nodes in float and says why' {
            $out = Join-Path $TestDrive 'fashion.excl.onnx'
            $q = Invoke-Quantization -Model $Model -Calibration $Cal -Path $out -ExcludeNode '/fc/Gemm'
            $q.QuantizedNodes.Name | Should -Not -Contain '/fc/Gemm'
            ($q.Skipped | Where-Object Name -eq '/fc/Gemm').Reason | Should -Not -BeNullOrEmpty
        }

        It 'does not change the input model object' {
            $before = $Model.NodeCount
            Invoke-Quantization -Model $Model -Calibration $Cal -Path (Join-Path $TestDrive 'again.onnx') | Out-Null
            $Model.NodeCount | Should -Be $before
            $Model.IsQuantized | Should -BeFalse
        }
    }

    Context 'ShouldProcess' {
        It 'writes nothing with -WhatIf' {
            $out = Join-Path $TestDrive 'whatif.onnx'
            $result = Invoke-Quantization -Model $Model -Calibration $Cal -Path $out -WhatIf
            Test-Path $out | Should -BeFalse
            $result | Should -BeNullOrEmpty
        }

        It 'does not replace an existing file without -Force' {
            $out = Join-Path $TestDrive 'exists.onnx'
            Set-Content -Path $out -Value 'keep me'
            { Invoke-Quantization -Model $Model -Calibration $Cal -Path $out -ErrorAction Stop } |
                Should -Throw -ErrorId 'InvokeQuantizationOutputExists'
            Get-Content $out | Should -Be 'keep me'
            Invoke-Quantization -Model $Model -Calibration $Cal -Path $out -Force | Out-Null
            (Get-OnnxGraph $out).IsQuantized | Should -BeTrue
        }

        It 'never replaces the input model file' {
            $copy = Join-Path $TestDrive 'input.onnx'
            Copy-Item $FashionModel $copy
            { Invoke-Quantization -Model $copy -Calibration $Cal -Path $copy -Force -ErrorAction Stop } | Should -Throw
            (Get-OnnxGraph $copy).IsQuantized | Should -BeFalse
        }
    }

    Context 'errors' {
        It 'reports a missing model' {
            { Invoke-Quantization -Model (Join-Path $TestDrive 'missing.onnx') -Dynamic -Path (Join-Path $TestDrive 'x.onnx') -ErrorAction Stop } |
                Should -Throw
        }

        It 'rejects an unknown format' {
            { Invoke-Quantization -Model $Model -Calibration $Cal -Path (Join-Path $TestDrive 'x.onnx') -Format Int4Magic } |
                Should -Throw -ErrorId 'ParameterArgumentValidationError,EvoQuant.PowerShell.Commands.InvokeQuantizationCommand'
        }
    }

    Context 'completion and help' {
        It 'completes node names, op types and tensor names of the model on the command line' {
            (Get-TabCompletion "Invoke-Quantization -Model '$FashionModel' -ExcludeNode /stem/stem.0/C").CompletionText |
                Should -Contain '/stem/stem.0/Conv'
            (Get-TabCompletion "Invoke-Quantization -Model '$FashionModel' -OpType Ge").CompletionText | Should -Be 'Gemm'
            (Get-TabCompletion "Invoke-Quantization -Model '$FashionModel' -TensorOverride lo").CompletionText | Should -Contain 'logits'
            (Get-TabCompletion 'Invoke-Quantization -Format ').CompletionText | Should -Be @('QDQ', 'QOperator')
        }

        It 'documents -WhatIf and has examples' {
            (Get-Help Invoke-Quantization -Examples).examples.example.Count | Should -BeGreaterOrEqual 2
            (Get-Help Invoke-Quantization -Parameter WhatIf).description.Text | Should -Match 'writes nothing'
        }
    }
}
