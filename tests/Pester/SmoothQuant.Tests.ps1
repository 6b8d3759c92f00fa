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
