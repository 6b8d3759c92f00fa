#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Model = Get-OnnxGraph $FashionModel
}

Describe 'Measure-Calibration' {
    Context 'measuring' {
        It 'calibrates from a .npy file given with -InputPath' {
            $cal = Measure-Calibration -Model $Model -InputPath $FashionCalib -BatchSize 50
            $cal | Should -Not -BeNullOrEmpty
            $cal | Should -HaveCount 1
            $cal.Method | Should -Be 'MinMax'
            $cal.SampleCount | Should -Be 200
            $cal.Tensors.Name | Should -Contain 'input'
            $row = $cal.Tensors | Where-Object Name -eq 'input'
            $row.Min | Should -BeLessThan 0
            $row.Max | Should -BeGreaterThan $row.Min
        }

        It 'takes samples from the pipeline: files, folders and hashtables' {
            $fromFile = Get-Item $FashionCalib | Measure-Calibration -Model $Model
            $fromFile.SampleCount | Should -Be 200
            $fromFolder = Get-Item $FashionTestDataSet | Measure-Calibration -Model $Model
            $fromFolder.SampleCount | Should -Be 8
            $image = [float[]]::new(784)
            $fromHashtable = @{ input = $image }, @{ input = $image } | Measure-Calibration -Model $Model
            $fromHashtable.SampleCount | Should -Be 2
        }

        It 'takes the model as a path' {
            $cal = Measure-Calibration -Model $FashionModel -InputPath $FashionTestDataSet
            $cal.SampleCount | Should -Be 8
        }

        It 'clips outliers with Entropy and Percentile compared with MinMax' -TestCases @(
            @{ Method = 'Entropy' }, @{ Method = 'Percentile' }
        ) {
            $minMax = Measure-Calibration -Model $Model -InputPath $FashionCalib -Method MinMax
            $other = Measure-Calibration -Model $Model -InputPath $FashionCalib -Method $Method
            $other.Method | Should -Be $Method
            $narrower = 0
            foreach ($row in $other.Tensors) {
                $ref = $minMax.Tensors | Where-Object Name -eq $row.Name
                if ([math]::Abs($row.Max) -le [math]::Abs($ref.Max) + 1e-6) { $narrower++ }
            }
            $narrower | Should -Be $other.Tensors.Count
        }

        It 'restricts the tensors with -OpType and -ExcludeNode' {
            $all = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet
            $gemm = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -OpType Gemm
            $gemm.Tensors.Count | Should -BeLessThan $all.Tensors.Count
            $gemm.Tensors.Count | Should -BeGreaterThan 0
        }
    }

    Context 'saving and merging' {
        It 'saves the table with -OutFile and Invoke-Quantization reads it back' {
            $file = Join-Path $TestDrive 'fashion.calib.json'
            $cal = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -OutFile $file
            Test-Path $file | Should -BeTrue
            $q = Invoke-Quantization -Model $Model -Calibration $file -Path (Join-Path $TestDrive 'q.onnx')
            $q.Path | Should -Be (Join-Path $TestDrive 'q.onnx')
        }

        It 'merges tables of shards into the table of the whole' {
            $whole = Measure-Calibration -Model $Model -InputPath $FashionCalib -Method MinMax
            $part1 = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -Method MinMax
            $part2 = Measure-Calibration -Model $Model -InputPath $FashionCalib -Method MinMax
            $merged = Measure-Calibration -Model $Model -Method MinMax -Merge $part1, $part2
            $merged.SampleCount | Should -Be ($part1.SampleCount + $part2.SampleCount)
            foreach ($row in $whole.Tensors) {
                $m = $merged.Tensors | Where-Object Name -eq $row.Name
                $m.Max | Should -BeGreaterOrEqual $row.Max
                $m.Min | Should -BeLessOrEqual $row.Min
            }
        }
    }

    Context 'errors' {
        It 'reports a missing model' {
            { Measure-Calibration -Model (Join-Path $TestDrive 'missing.onnx') -InputPath $FashionCalib -ErrorAction Stop } |
                Should -Throw
        }

        It 'reports a missing sample file as InputNotFound' {
            { Measure-Calibration -Model $Model -InputPath (Join-Path $TestDrive 'missing.npy') -ErrorAction Stop } |
                Should -Throw -ErrorId 'MeasureCalibrationInputNotFound'
        }

        It 'reports a sample of the wrong shape as InputMismatch' {
            { @{ input = [float[]]::new(5) } | Measure-Calibration -Model $Model -ErrorAction Stop } |
                Should -Throw -ErrorId 'MeasureCalibrationInputMismatch'
        }

        It 'rejects an unknown method' {
            { Measure-Calibration -Model $Model -InputPath $FashionCalib -Method Median } |
                Should -Throw -ErrorId 'ParameterArgumentValidationError,EvoQuant.PowerShell.Commands.MeasureCalibrationCommand'
        }
    }

    Context 'completion and help' {
        It 'completes node names and op types of the model on the command line' {
            $line = "Measure-Calibration -Model '$FashionModel' -ExcludeNode /stem/stem.0/C"
            (Get-TabCompletion $line).CompletionText | Should -Contain '/stem/stem.0/Conv'
            (Get-TabCompletion "Measure-Calibration -Model '$FashionModel' -OpType Ge").CompletionText | Should -Be 'Gemm'
            (Get-TabCompletion 'Measure-Calibration -Method ').CompletionText | Should -Be @('MinMax', 'Entropy', 'Percentile')
        }

        It 'documents every parameter and has examples' {
            (Get-Help Measure-Calibration -Examples).examples.example.Count | Should -BeGreaterOrEqual 2
            foreach ($p in 'Model', 'InputObject', 'Method', 'Merge', 'OutFile') {
                (Get-Help Measure-Calibration -Parameter $p).description.Text | Should -Not -BeNullOrEmpty
            }
        }
    }
}
