#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Model = Get-OnnxGraph $FashionModel
    $script:CommandId = ',EvoQuant.PowerShell.Commands.InvokeQuantizationCommand'
}

Describe 'Invoke-Quantization -WeightOnly' {
    Context 'fashion-cnn (its Gemm classifier)' {
        It 'quantizes with GPTQ from -CalibrationData, and the model runs in ONNX Runtime as accurate as float' {
            $out = Join-Path $TestDrive 'fashion.int4.onnx'
            $q = Invoke-Quantization -Model $Model -WeightOnly -CalibrationData $FashionCalib -Path $out -ErrorAction Stop
            $q.Mode | Should -Be 'WeightOnly'
            $q.WeightOnlyForm | Should -Be 'MatMulNBits'
            $q.QuantizedNodes.Name | Should -Be @('/fc/Gemm')
            $q.WeightOnlyLayers | Should -HaveCount 1
            $layer = $q.WeightOnlyLayers[0]
            $layer.Method | Should -Be 'GPTQ'      # the default when calibration data is given
            $layer.Bits | Should -Be 4
            $layer.BlockSize | Should -Be 32
            (Get-OnnxGraph $out).OpTypeCounts['com.microsoft:MatMulNBits'] | Should -Be 1

            # Compare-QuantAccuracy runs the float model and the written one in ONNX Runtime on the test images.
            $r = Compare-QuantAccuracy -Candidate $q -InputPath $FashionTestX -Label $FashionTestY -NoTiming
            $r.Summary.Rows | Should -Be 2000
            $r.Summary.AccuracyDrop | Should -BeLessThan 1
            $r.Outputs[0].Sqnr | Should -BeGreaterThan 25
        }

        It 'writes the standard DequantizeLinear form in 8 bits, which ONNX Runtime runs too (<Method>)' -ForEach @(@{ Method = 'RTN' }, @{ Method = 'GPTQ' }) {
            $out = Join-Path $TestDrive "fashion.int8.$Method.onnx"
            $q = Invoke-Quantization -Model $FashionModel -WeightOnly -Bits 8 -BlockSize 16 -WeightSymmetric:$false -WeightOnlyForm DequantizeLinear `
                -WeightOnlyMethod $Method -CalibrationData $FashionCalib -Path $out -ErrorAction Stop -WarningVariable warnings
            $q.WeightOnlyLayers[0].Method | Should -Be $Method
            $q.WeightOnlyLayers[0].Symmetric | Should -BeFalse
            @($warnings -match 'not read').Count | Should -Be ($Method -eq 'RTN' ? 1 : 0)
            $warnings -match 'opset was raised' | Should -Not -BeNullOrEmpty
            $written = Get-OnnxGraph $out
            $written.OpTypeCounts['DequantizeLinear'] | Should -Be 1
            $written.OpTypeCounts.Keys | Should -Not -Contain 'com.microsoft:MatMulNBits'
            $r = Compare-QuantAccuracy -Reference $FashionModel -Candidate $out -InputPath $FashionTestDataSet -NoTiming
            $r.Outputs[0].Sqnr | Should -BeGreaterThan 35
        }

        It 'stores every Conv and Gemm weight as logarithmic codes with -WeightOnlyForm Logarithmic, and the model runs' {
            $out = Join-Path $TestDrive 'fashion.log4.onnx'
            $q = Invoke-Quantization -Model $Model -WeightOnly -WeightOnlyForm Logarithmic -Bits 4 -EightBitFirstAndLast -Path $out -ErrorAction Stop -WarningVariable warnings
            $q.WeightOnlyForm | Should -Be 'Logarithmic'
            $q.WeightOnlyLayers | Should -HaveCount ($Model.OpTypeCounts['Conv'] + $Model.OpTypeCounts['Gemm'])
            $q.WeightOnlyLayers[0].Bits | Should -Be 8
            @($q.WeightOnlyLayers | Where-Object Bits -eq 4).Count | Should -Be ($q.WeightOnlyLayers.Count - 2)
            $q.FileSizeAfter | Should -BeLessThan ($q.FileSizeBefore / 2)
            $warnings -match 'opset was raised' | Should -Not -BeNullOrEmpty
            (Get-OnnxGraph $out).OpTypeCounts.Keys | Should -Not -Contain 'DequantizeLinear'
            $r = Compare-QuantAccuracy -Candidate $q -InputPath $FashionTestX -Label $FashionTestY -NoTiming
            $r.Summary.AccuracyDrop | Should -BeLessThan 3
        }

        It 'refines round-to-nearest block scales with -WeightScale Admm: no layer loses' {
            $rtn = Invoke-Quantization -Model $Model -WeightOnly -WeightOnlyMethod RTN -Path (Join-Path $TestDrive 'rtn.onnx') -ErrorAction Stop
            $admm = Invoke-Quantization -Model $Model -WeightOnly -WeightOnlyMethod RTN -WeightScale Admm -Path (Join-Path $TestDrive 'admm.onnx') -ErrorAction Stop
            $admm.WeightOnlyLayers | Should -HaveCount $rtn.WeightOnlyLayers.Count
            for ($i = 0; $i -lt $rtn.WeightOnlyLayers.Count; $i++) {
                $admm.WeightOnlyLayers[$i].Mse | Should -BeLessThan $rtn.WeightOnlyLayers[$i].Mse
            }
            { Invoke-Quantization -Model $Model -WeightOnly -WeightOnlyMethod GPTQ -CalibrationData $FashionCalib -WeightScale Admm -Path (Join-Path $TestDrive 'no.onnx') -ErrorAction Stop } |
                Should -Throw -ErrorId "InvokeQuantizationInvalidOptions$CommandId"
        }

        It 'writes nothing with -WhatIf' {
            $out = Join-Path $TestDrive 'whatif.onnx'
            $q = Invoke-Quantization -Model $FashionModel -WeightOnly -Path $out -WhatIf
            $q | Should -BeNullOrEmpty
            Test-Path $out | Should -BeFalse
        }

        It 'asks for calibration data when GPTQ has none, naming the parameter' {
            $out = Join-Path $TestDrive 'gptq-no-data.onnx'
            $null = Invoke-Quantization -Model $FashionModel -WeightOnly -WeightOnlyMethod GPTQ -Path $out -ErrorAction SilentlyContinue -ErrorVariable errs
            $errs | Should -HaveCount 1
            $errs[0].FullyQualifiedErrorId | Should -Be "InvokeQuantizationInvalidOptions$CommandId"
            $errs[0].ErrorDetails.RecommendedAction | Should -BeLike 'Change -CalibrationData*'
            Test-Path $out | Should -BeFalse
        }

        It 'reports calibration samples that do not fit the model' {
            $out = Join-Path $TestDrive 'bad-samples.onnx'
            $null = Invoke-Quantization -Model $FashionModel -WeightOnly -CalibrationData @{ input = [float[]]::new(5) } -Path $out -ErrorAction SilentlyContinue -ErrorVariable errs
            $errs | Should -HaveCount 1
            $errs[0].FullyQualifiedErrorId | Should -Be "InvokeQuantizationInvalidCalibrationData$CommandId"
            Test-Path $out | Should -BeFalse
        }
    }

    Context 'parameters' {
        It 'refuses <Case> while binding' -ForEach @(
            @{ Case = 'a block size that is not a power of two'; Extra = @{ BlockSize = 48 }; Id = 'ParameterArgumentValidationError' }
            @{ Case = '3 bits'; Extra = @{ Bits = 3 }; Id = 'ParameterArgumentValidationError' }
            @{ Case = 'an accuracy level over 4'; Extra = @{ AccuracyLevel = 5 }; Id = 'ParameterArgumentValidationError' }
            @{ Case = '-PerChannel (an integer-mode parameter)'; Extra = @{ PerChannel = $true }; Id = 'AmbiguousParameterSet' }
            @{ Case = '-Calibration'; Extra = @{ Calibration = @{ x = 0, 1 } }; Id = 'AmbiguousParameterSet' }
            @{ Case = '-Dynamic'; Extra = @{ Dynamic = $true }; Id = 'AmbiguousParameterSet' }
        ) {
            $out = Join-Path $TestDrive 'refused.onnx'
            { Invoke-Quantization -Model $FashionModel -WeightOnly -Path $out @Extra } | Should -Throw -ErrorId "$Id$CommandId"
            Test-Path $out | Should -BeFalse
        }

        It 'refuses an unknown method, naming the methods' {
            { Invoke-Quantization -Model $FashionModel -WeightOnly -WeightOnlyMethod Magic -Path (Join-Path $TestDrive 'm.onnx') } |
                Should -Throw -ErrorId "InvokeQuantizationInvalidArgument$CommandId" -ExpectedMessage '*GPTQ, RTN*'
        }

        It 'completes <Parameter>' -ForEach @(
            @{ Parameter = 'WeightOnlyMethod'; Expected = @('GPTQ', 'RTN') }
            @{ Parameter = 'WeightOnlyForm'; Expected = @('DequantizeLinear', 'Logarithmic', 'MatMulNBits') }
            @{ Parameter = 'BlockSize'; Expected = @('128', '16', '256', '32', '64') }
            @{ Parameter = 'Bits'; Expected = @('4', '8') }
        ) {
            @(Get-TabCompletion "Invoke-Quantization -WeightOnly -$Parameter " | ForEach-Object CompletionText | Sort-Object) | Should -Be $Expected
        }

        It 'completes -KeepEightBit with the node names of the model' {
            Get-TabCompletion "Invoke-Quantization -Model '$FashionModel' -WeightOnly -KeepEightBit /fc" | ForEach-Object CompletionText | Should -Contain '/fc/Gemm'
        }
    }

    Context 'all-MiniLM-L6-v2 on real sentences' -Tag 'Full' {
        BeforeAll {
            $dir = Join-Path $RepoRoot '.testdata/transformers/minilm'
            $script:MiniLm = Join-Path $dir 'model.onnx'
            $encoder = [EvoQuant.Text.BertTextEncoder]::new((Join-Path $dir 'vocab.txt'), 128)
            $split = [EvoQuant.Text.SentenceCorpus]::Load((Join-Path $RepoRoot '.testdata/fortunes')).Split(19, [int[]](16, 8))
            $script:Calibration = @($encoder.EncodeBatches($split[0], 8))
            $script:Validation = @($encoder.EncodeBatches($split[1], 8))
        }

        It 'quantizes every MatMul to 4 bits with GPTQ, the embeddings kept at 8, and stays close to float in ONNX Runtime' {
            $out = Join-Path $TestDrive 'minilm.int4.onnx'
            $q = Invoke-Quantization -Model $MiniLm -WeightOnly -CalibrationData $Calibration -KeepEightBit 'Gather*' -Path $out -ErrorAction Stop
            $matmuls = @($q.WeightOnlyLayers | Where-Object OpType -eq 'MatMul')
            $matmuls.Count | Should -BeGreaterOrEqual 36
            $matmuls | ForEach-Object { $_.Bits | Should -Be 4; $_.Method | Should -Be 'GPTQ' }
            $gathers = @($q.WeightOnlyLayers | Where-Object OpType -eq 'Gather')
            $gathers.Count | Should -BeGreaterThan 0
            $gathers | ForEach-Object { $_.Bits | Should -Be 8; $_.Method | Should -Be 'RTN' }   # an embedding has no input to weigh errors by
            $before = ($matmuls | Measure-Object BytesBefore -Sum).Sum
            $after = ($matmuls | Measure-Object BytesAfter -Sum).Sum
            $before / $after | Should -BeGreaterThan 6

            $r = $Validation | Compare-QuantAccuracy -Candidate $q -NoTiming
            $r.Summary.Rows | Should -Be 8
            # Token embeddings ([batch, tokens, 384]), on 16 calibration sentences; the sentence embeddings' cosine on 2000 is in docs/benchmarks.md.
            $r.Outputs[0].CosineSimilarity | Should -BeGreaterThan 0.95
        }
    }
}
