#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Model = Get-OnnxGraph $FashionModel
    $cal = Measure-Calibration -Model $Model -InputPath $FashionCalib
    $script:Quantized = Invoke-Quantization -Model $Model -Calibration $cal -PerChannel -Path (Join-Path $TestDrive 'fashion.int8.onnx')
    $script:Labels = Read-NpyInt64 $FashionTestY
}

Describe 'Compare-QuantAccuracy' {
    Context 'comparing' {
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
            $r.Summary.ReferenceAccuracy | Should -Be 91.25   # percent: README of ../shared/models
            [math]::Abs($r.Summary.AccuracyDrop) | Should -BeLessThan 1
            $r.Summary.Top1Agreement | Should -BeGreaterThan 95
            $r.Outputs[0].Sqnr | Should -BeGreaterThan 20
        }

        It 'takes the labels as a .npy path' {
            $r = Compare-QuantAccuracy -Reference $Model -Candidate $Quantized -InputPath $FashionTestX -Label $FashionTestY
            $r.Summary.ReferenceAccuracy | Should -Be 91.25
        }

        It 'takes a piped quantization result as the candidate and its source as the reference' {
            $r = $Quantized | Compare-QuantAccuracy -InputPath $FashionTestDataSet
            $r.Summary.Rows | Should -Be 8
            $r.Summary.Reference | Should -BeLike '*fashion-cnn.onnx'
        }

        It 'takes samples from the pipeline' {
            $r = Get-Item $FashionTestDataSet | Compare-QuantAccuracy -Reference $Model -Candidate $Quantized
            $r.Summary.Rows | Should -Be 8
        }

        It 'times both models unless -NoTiming' {
            $r = Compare-QuantAccuracy -Reference $Model -Candidate $Quantized -InputPath $FashionTestX -BatchSize 32
            $r.Speed.Throughput.BatchSize | Should -Be 32
            $r.Speed.Latency.BatchSize | Should -Be 1
            $r.Speed.Throughput.Reference.Median | Should -BeGreaterThan 0
            $r.Speed.Threads | Should -BeGreaterThan 0
            $r.Speed.Cpu.Model | Should -Not -BeNullOrEmpty
            (Compare-QuantAccuracy -Reference $Model -Candidate $Quantized -InputPath $FashionTestDataSet -NoTiming).Speed | Should -BeNullOrEmpty
        }

        It 'ranks tensors and nodes with -PerTensor' {
            $r = Compare-QuantAccuracy -Reference $Model -Candidate $Quantized -InputPath $FashionTestDataSet -PerTensor
            $r.Tensors.Count | Should -BeGreaterThan 10
            $r.Tensors.Tensor | Should -Contain 'logits'
            ($r.Nodes | Where-Object OpType -eq 'Conv') | Should -HaveCount 16
            $r.Suggestion | Should -Not -BeNullOrEmpty
            $r.Suggestion.ExcludeNode | ForEach-Object { $_ | Should -BeIn $Model.Nodes.Name }
        }

        It 'suggests nodes to keep in float under a high -TargetSqnr' {
            $r = Compare-QuantAccuracy -Reference $Model -Candidate $Quantized -InputPath $FashionTestDataSet -PerTensor -TargetSqnr 150
            $r.Suggestion.ExcludeNode.Count | Should -BeGreaterThan 0
        }
    }

    Context 'report file' {
        It 'writes an HTML report, and replaces it only with -Force' {
            $html = Join-Path $TestDrive 'report.html'
            Compare-QuantAccuracy -Reference $Model -Candidate $Quantized -InputPath $FashionTestDataSet -Report $html | Out-Null
            Get-Content $html -Raw | Should -Match '<html'
            { Compare-QuantAccuracy -Reference $Model -Candidate $Quantized -InputPath $FashionTestDataSet -Report $html -ErrorAction Stop } |
                Should -Throw -ErrorId 'CompareQuantAccuracyReportExists,EvoQuant.PowerShell.Commands.CompareQuantAccuracyCommand'
            Compare-QuantAccuracy -Reference $Model -Candidate $Quantized -InputPath $FashionTestDataSet -Report $html -Force | Should -Not -BeNullOrEmpty
        }

        It 'writes no report with -WhatIf' {
            $html = Join-Path $TestDrive 'whatif.html'
            $r = Compare-QuantAccuracy -Reference $Model -Candidate $Quantized -InputPath $FashionTestDataSet -Report $html -WhatIf
            Test-Path $html | Should -BeFalse
            $r.Summary.Rows | Should -Be 8
        }
    }

    Context 'errors' {
        It 'rejects a label count that does not match the samples' {
            { Compare-QuantAccuracy -Reference $Model -Candidate $Quantized -InputPath $FashionTestDataSet -Label 1, 2, 3 -ErrorAction Stop } |
                Should -Throw -ErrorId 'CompareQuantAccuracyCompareFailed,EvoQuant.PowerShell.Commands.CompareQuantAccuracyCommand'
        }

        It 'needs samples' {
            { Compare-QuantAccuracy -Reference $Model -Candidate $Quantized -ErrorAction Stop } |
                Should -Throw -ErrorId 'CompareQuantAccuracyNoSamples,EvoQuant.PowerShell.Commands.CompareQuantAccuracyCommand'
        }

        It 'needs a candidate' {
            { Compare-QuantAccuracy -Reference $Model -InputPath $FashionTestDataSet -ErrorAction Stop } |
                Should -Throw -ErrorId 'CompareQuantAccuracyNoCandidate,EvoQuant.PowerShell.Commands.CompareQuantAccuracyCommand'
        }

        It 'reports a missing candidate model' {
            { Compare-QuantAccuracy -Reference $Model -Candidate (Join-Path $TestDrive 'missing.onnx') -InputPath $FashionTestDataSet -ErrorAction Stop } |
                Should -Throw -ErrorId 'CompareQuantAccuracyModelNotFound,EvoQuant.PowerShell.Commands.CompareQuantAccuracyCommand'
        }
    }

    Context 'sentence embeddings' {
        It 'refuses -Embedding on a model without an attention-mask input, naming its inputs' {
            { Compare-QuantAccuracy -Reference $Model -Candidate $Quantized -InputPath $FashionTestDataSet -Embedding -NoTiming -ErrorAction Stop } |
                Should -Throw -ErrorId 'CompareQuantAccuracyCompareFailed,EvoQuant.PowerShell.Commands.CompareQuantAccuracyCommand' -ExpectedMessage "*no input 'attention_mask'*input*"
        }

        It 'pools MiniLM embeddings with the given output, mask, queries and documents' -Tag 'Full' {
            $miniLm = Join-Path $RepoRoot '.testdata/transformers/minilm/model.onnx'
            $vocab = Join-Path $RepoRoot '.testdata/transformers/minilm/vocab.txt'
            $sentences = [EvoQuant.Text.SentenceCorpus]::Load((Join-Path $RepoRoot '.testdata/fortunes')).Split(4, 16)[0]
            $dynamic = Invoke-Quantization -Model $miniLm -Dynamic -Path (Join-Path $TestDrive 'minilm.dyn.onnx')
            $r = $sentences | ConvertTo-TokenSample -Vocabulary $vocab -BatchSize 8 |
                Compare-QuantAccuracy -Reference $miniLm -Candidate $dynamic -HiddenStateOutput last_hidden_state -AttentionMaskInput attention_mask `
                    -QueryCount 4 -DocumentCount 10 -NoTiming
            $r.Embedding.Queries | Should -Be 4
            $r.Embedding.Documents | Should -Be 10
            $r.Embedding.Rows | Should -Be 16
            $r.Embedding.MeanCosine | Should -BeLessThan 0.99999
            $r.Embedding.MeanCosine | Should -BeGreaterThan 0.8
            $r.Embedding.MinCosine | Should -BeLessOrEqual $r.Embedding.MeanCosine
            $r.Embedding.SpearmanCorrelation | Should -BeGreaterThan 0.5
            $PSStyle.OutputRendering = 'PlainText'
            $lines = @(($r.Embedding | Out-String -Width 80) -split '\r?\n')
            $lines | Where-Object Length -gt 80 | Should -BeNullOrEmpty
            $lines -match '^SpearmanCorrelation\s+:\s+0[.,]\d{5}$' | Should -Not -BeNullOrEmpty
            ($r | Format-List | Out-String -Width 80) | Should -Match 'Embedding\s+:\s+cosine mean 0\.\d{4} min'
        }
    }

    Context 'formatting and help' {
        It 'shows the report and its rows as tables' {
            $r = Compare-QuantAccuracy -Reference $Model -Candidate $Quantized -InputPath $FashionTestX -Label $Labels -PerTensor
            ($r | Format-Table | Out-String -Width 120) | Should -Match '(?m)^\S+\.onnx\s+2[,.]?000\s+91[.,]25%'
            ($r.Outputs | Format-Table | Out-String -Width 120) | Should -Match 'logits\s+\d+[.,]\d'
            ($r.Nodes | Format-Table | Out-String -Width 120) | Should -Match 'Conv'
        }

        It 'has help with examples for every parameter' {
            (Get-Help Compare-QuantAccuracy -Examples).examples.example.Count | Should -BeGreaterOrEqual 2
            (Get-Help Compare-QuantAccuracy -Parameter Candidate).description.Text | Should -Match 'Invoke-Quantization'
            foreach ($p in (Get-Command Compare-QuantAccuracy).Parameters.Keys | Where-Object { $_ -notin [System.Management.Automation.Cmdlet]::CommonParameters }) {
                (Get-Help Compare-QuantAccuracy -Parameter $p).description.Text | Should -Not -BeNullOrEmpty -Because "-$p"
            }
        }
    }
}
