#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:MiniLm = Join-Path $RepoRoot '.testdata/transformers/minilm/model.onnx'
    $script:MiniLmVocab = Join-Path $RepoRoot '.testdata/transformers/minilm/vocab.txt'
    $script:Fortunes = Join-Path $RepoRoot '.testdata/fortunes'
    $script:CommandId = ',EvoQuant.PowerShell.Commands.InvokeQuantizationCommand'
}

Describe 'Invoke-Quantization -SmoothQuant' {
    It 'refuses to smooth without -CalibrationData, with its own ErrorId, and writes nothing' {
        $out = Join-Path $TestDrive 'none.onnx'
        { Invoke-Quantization -Model $MiniLm -Dynamic -SmoothQuant -Path $out -ErrorAction Stop } |
            Should -Throw -ErrorId "InvokeQuantizationSmoothQuantNeedsCalibrationData$CommandId"
        Test-Path $out | Should -BeFalse
    }

    It 'smooths MiniLM from tokenized sentences, dynamic, and the int8 embeddings stay close to float' -Tag 'Full' {
        $parts = [EvoQuant.Text.SentenceCorpus]::Load($Fortunes).Split(31, 32, 16)
        $cal = @($parts[0] | ConvertTo-TokenSample -Vocabulary $MiniLmVocab -BatchSize 16)
        $out = Join-Path $TestDrive 'minilm.smooth.onnx'
        $q = Invoke-Quantization -Model $MiniLm -Dynamic -SmoothQuant -SmoothAlpha 0.75 -SmoothFoldOnly -CalibrationData $cal -Path $out -ErrorAction Stop
        # The six GELU outputs fold 1/s into their final Mul: no Mul added, the feed-forward weights rescaled.
        $plain = Join-Path $TestDrive 'minilm.plain.onnx'
        $null = Invoke-Quantization -Model $MiniLm -Dynamic -Path $plain -ErrorAction Stop
        (Get-OnnxGraph $out).OpTypeCounts['Mul'] | Should -Be (Get-OnnxGraph $plain).OpTypeCounts['Mul']
        $r = $parts[1] | ConvertTo-TokenSample -Vocabulary $MiniLmVocab -BatchSize 16 |
            Compare-QuantAccuracy -Reference $MiniLm -Candidate $out -Embedding -QueryCount 4 -NoTiming
        $r.Embedding.MeanCosine | Should -BeGreaterThan 0.98
    }
}

Describe 'Invoke-Quantization outlier split' {
    It 'refuses -SplitOutliers when neither the table nor -CalibrationData gives channel ranges, with its own ErrorId, and writes nothing' {
        $out = Join-Path $TestDrive 'none.onnx'
        { Invoke-Quantization -Model $MiniLm -Calibration @{} -SplitOutliers -Path $out -ErrorAction Stop } |
            Should -Throw -ErrorId "InvokeQuantizationSplitOutliersNeedsCalibrationData$CommandId"
        Test-Path $out | Should -BeFalse
    }

    It 'splits with the channel ranges Measure-Calibration keeps in its table, saved or piped, and not with -NoChannelRanges' -Tag 'Full' {
        $samples = @([EvoQuant.Text.SentenceCorpus]::Load($Fortunes).Split(35, 16, 1)[0] | ConvertTo-TokenSample -Vocabulary $MiniLmVocab -BatchSize 16)
        $saved = Join-Path $TestDrive 'minilm.cal.json'
        $cal = $samples | Measure-Calibration -Model $MiniLm -OutFile $saved -Verbose 4>&1 | Tee-Object -Variable all |
            Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        ($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like 'Also keeping the per-channel extremes of * MatMul inputs*' }) |
            Should -Not -BeNullOrEmpty
        $cal.ChannelRanges.Count | Should -BeGreaterThan 0
        ($cal | Format-List | Out-String) | Should -Match "ChannelRanges\s*:\s*$($cal.ChannelRanges.Count) MatMul inputs"
        $q = Invoke-Quantization -Model $MiniLm -Calibration $saved -Path (Join-Path $TestDrive 'minilm.fromtable.onnx') -ErrorAction Stop
        $q.TargetDecisions | Where-Object { $_ -like 'outlier split:*' } | Should -Not -BeNullOrEmpty

        $plain = $samples | Measure-Calibration -Model $MiniLm -NoChannelRanges
        $plain.ChannelRanges.Count | Should -Be 0
        $p = Invoke-Quantization -Model $MiniLm -Calibration $plain -Path (Join-Path $TestDrive 'minilm.nochannels.onnx') -ErrorAction Stop
        $p.TargetDecisions | Where-Object { $_ -like 'outlier split:*' } | Should -BeNullOrEmpty
    }

    It 'splits the outlier channels of MiniLM with -CalibrationData by default, says so, and not with -SplitOutliers:$false' -Tag 'Full' {
        $parts = [EvoQuant.Text.SentenceCorpus]::Load($Fortunes).Split(33, 32, 16)
        $samples = @($parts[0] | ConvertTo-TokenSample -Vocabulary $MiniLmVocab -BatchSize 16)
        $cal = $samples | Measure-Calibration -Model $MiniLm
        $out = Join-Path $TestDrive 'minilm.split.onnx'
        $q = Invoke-Quantization -Model $MiniLm -Calibration $cal -CalibrationData $samples -Path $out -ErrorAction Stop -Verbose 4>&1 |
            Tee-Object -Variable all | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        ($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like 'Target: outlier split:*' }) | Should -Not -BeNullOrEmpty
        $q.TargetDecisions | Where-Object { $_ -like 'outlier split:*' } | Should -Not -BeNullOrEmpty
        # The split first down projection is quantized: the rule that kept it float gives way.
        $q.TargetDecisions | Where-Object { $_ -like 'kept float:*' } | Should -BeNullOrEmpty
        (Get-OnnxGraph $out).OpTypeCounts['Gather'] | Should -BeGreaterThan (Get-OnnxGraph $MiniLm).OpTypeCounts['Gather']

        $plain = Join-Path $TestDrive 'minilm.plain.onnx'
        $p = Invoke-Quantization -Model $MiniLm -Calibration $cal -CalibrationData $samples -SplitOutliers:$false -Path $plain -ErrorAction Stop
        $p.TargetDecisions | Where-Object { $_ -like 'outlier split:*' } | Should -BeNullOrEmpty

        $eval = @($parts[1] | ConvertTo-TokenSample -Vocabulary $MiniLmVocab -BatchSize 16)
        $split = $eval | Compare-QuantAccuracy -Reference $MiniLm -Candidate $out -Embedding -QueryCount 4 -NoTiming
        $whole = $eval | Compare-QuantAccuracy -Reference $MiniLm -Candidate $plain -Embedding -QueryCount 4 -NoTiming
        $split.Embedding.MeanCosine | Should -BeGreaterThan $whole.Embedding.MeanCosine
    }

    It 'measures no channel ranges for a model without MatMuls, says why, and quantizes as without samples' {
        $cal = Measure-Calibration -Model $FashionModel -InputPath $FashionCalib
        $with = Join-Path $TestDrive 'fashion.samples.onnx'
        $null = Invoke-Quantization -Model $FashionModel -Calibration $cal -CalibrationData $FashionCalib -Path $with -ErrorAction Stop -Verbose 4>&1 |
            Tee-Object -Variable all | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        ($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like 'No per-channel ranges measured: no MatMul*' }) |
            Should -Not -BeNullOrEmpty
        $without = Join-Path $TestDrive 'fashion.plain.onnx'
        $null = Invoke-Quantization -Model $FashionModel -Calibration $cal -Path $without -ErrorAction Stop
        (Get-FileHash $with).Hash | Should -Be (Get-FileHash $without).Hash
    }
}
