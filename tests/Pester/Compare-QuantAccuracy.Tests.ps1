#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Model = Get-OnnxGraph $FashionModel
    $cal = Measure-Calibration -Model $Model -InputPath $FashionCalib
    $script:Quantized = Invoke-Quantization -Model $Model -Calibration $cal -PerChannel -Path (Join-Path $TestDrive 'fashion.int8.onnx')
    $script:Labels = Read-NpyInt64 $FashionTestY
}

Describe 'Compare-QuantAccuracy' {
    It 'finds the float model identical to itself' {
        $r = Compare-QuantAccuracy -Reference $Model -Candidate $FashionModel -InputPath $FashionTestDataSet
        $r | Should -BeOfType ([EvoQuant.Evaluation.AccuracyReport])
        $r.Summary.Rows | Should -Be 8
        $r.Outputs[0].Output | Should -Be 'logits'
        $r.Outputs[0].CosineSimilarity | Should -BeGreaterThan 0.99999
        $r.Outputs[0].MaxAbsError | Should -BeLessThan 1e-4
    }

    It 'measures the int8 model against the float one with labels' {
        $r = Compare-QuantAccuracy -Reference $Model -Candidate $Quantized -InputPath $FashionTestX -Label $Labels
        $r.Summary.Rows | Should -Be 2000
        $r.Summary.ReferenceAccuracy | Should -Be 91.25
        [math]::Abs($r.Summary.AccuracyDrop) | Should -BeLessThan 2
        $r.Summary.Top1Agreement | Should -BeGreaterThan 95
        $r.Outputs[0].Sqnr | Should -BeGreaterThan 15
    }

    It 'takes the quantization result as -Candidate by its Model property' {
        $r = Compare-QuantAccuracy -Reference $FashionModel -Candidate $Quantized -InputPath $FashionTestDataSet
        $r | Should -Not -BeNullOrEmpty
    }

    It 'takes samples from the pipeline' {
        $r = Get-Item $FashionTestDataSet | Compare-QuantAccuracy -Reference $Model -Candidate $Quantized
        $r.Summary.Rows | Should -Be 8
    }

    It 'lists intermediate tensors with -PerTensor' {
        $r = Compare-QuantAccuracy -Reference $Model -Candidate $Quantized -InputPath $FashionTestDataSet -PerTensor
        $r.Tensors.Count | Should -BeGreaterThan 10
        $r.Tensors.Tensor | Should -Contain 'logits'
        $r.Nodes.Count | Should -BeGreaterThan 10
        ($r.Nodes | Where-Object OpType -eq 'Conv') | Should -HaveCount 16
        ($r.Tensors | Sort-Object Sqnr | Select-Object -First 1).Sqnr | Should -BeLessOrEqual ($r.Tensors | Measure-Object Sqnr -Maximum).Maximum
        $r.Suggestion.ExcludeNode | ForEach-Object { $_ | Should -BeIn $Model.Nodes.Name }
    }

    It 'writes an HTML report' {
        $html = Join-Path $TestDrive 'report.html'
        Compare-QuantAccuracy -Reference $Model -Candidate $Quantized -InputPath $FashionTestDataSet -Report $html | Out-Null
        Get-Content $html -Raw | Should -Match '<html'
    }

    It 'rejects a label count that does not match the samples' {
        { Compare-QuantAccuracy -Reference $Model -Candidate $Quantized -InputPath $FashionTestDataSet -Label 1, 2, 3 -ErrorAction Stop } |
            Should -Throw -ErrorId 'CompareQuantAccuracyLabelCountMismatch'
    }

    It 'reports a missing candidate model' {
        { Compare-QuantAccuracy -Reference $Model -Candidate (Join-Path $TestDrive 'missing.onnx') -InputPath $FashionTestDataSet -ErrorAction Stop } |
            Should -Throw
    }

    It 'has help with examples' {
        (Get-Help Compare-QuantAccuracy -Examples).examples.example.Count | Should -BeGreaterOrEqual 2
        (Get-Help Compare-QuantAccuracy -Parameter Candidate).description.Text | Should -Match 'Invoke-Quantization'
    }
}
