#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    # A WordPiece vocabulary small enough to tokenize by hand: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4 hello=5 world=6.
    $script:Vocab = Join-Path $TestDrive 'vocab.txt'
    Set-Content -Path $Vocab -Value '[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'hello', 'world'
    $script:MiniLm = Join-Path $RepoRoot '.testdata/transformers/minilm/model.onnx'
    $script:MiniLmVocab = Join-Path $RepoRoot '.testdata/transformers/minilm/vocab.txt'
    $script:Fortunes = Join-Path $RepoRoot '.testdata/fortunes'
}

Describe 'ConvertTo-TokenSample' {
    It 'turns piped sentences into input_ids, attention_mask and token_type_ids, padded per batch' {
        $s = 'Hello world', 'hello', 'WORLD hello world' | ConvertTo-TokenSample -Vocabulary $Vocab -BatchSize 2
        $s | Should -HaveCount 2
        $s[0] | Should -BeOfType ([EvoQuant.Data.Sample])
        $s[0].Tensors.Name | Should -Be 'input_ids', 'attention_mask', 'token_type_ids'
        $s[0].Tensors[0].ShapeText | Should -Be '[2,4]'
        $s[0].Tensors[0].Data | Should -Be 2, 5, 6, 3, 2, 5, 3, 0
        $s[0].Tensors[1].Data | Should -Be 1, 1, 1, 1, 1, 1, 1, 0
        $s[0].Tensors[0].ElementTypeName | Should -Be 'int64'
        $s[1].Tensors[0].ShapeText | Should -Be '[1,5]'
        $s[1].Source | Should -Be 'sentences 2..2'
    }

    It 'pads to -MaxLength and truncates to it, keeping [SEP]' {
        $s = ConvertTo-TokenSample -InputObject 'hello', 'hello hello hello hello' -Vocabulary $Vocab -MaxLength 4 -PadToMaxLength
        $s.Tensors[0].ShapeText | Should -Be '[2,4]'
        $s.Tensors[0].Data | Should -Be 2, 5, 3, 0, 2, 5, 5, 3
    }

    It 'streams: each sample leaves as soon as its batch is full' {
        $seen = [System.Collections.Generic.List[string]]::new()
        1..5 | ForEach-Object { $seen.Add("in $_"); 'hello' } | ConvertTo-TokenSample -Vocabulary $Vocab -BatchSize 2 | ForEach-Object { $seen.Add("out $($_.Source)") }
        $seen | Should -Be 'in 1', 'in 2', 'out sentences 0..1', 'in 3', 'in 4', 'out sentences 2..3', 'in 5', 'out sentences 4..4'
    }

    It 'reports a missing vocabulary with its own ErrorId' {
        { 'hello' | ConvertTo-TokenSample -Vocabulary (Join-Path $TestDrive 'none.txt') -ErrorAction Stop } |
            Should -Throw -ErrorId 'ConvertToTokenSampleVocabularyNotFound,EvoQuant.PowerShell.Commands.ConvertToTokenSampleCommand'
    }

    Context 'on all-MiniLM-L6-v2' -Tag 'Full' {
        BeforeAll {
            $script:Sentences = [EvoQuant.Text.SentenceCorpus]::Load($Fortunes).Split(21, 16, 20)
            $script:Model = Get-OnnxGraph $MiniLm
        }

        It 'feeds Measure-Calibration batch by batch, batches of different lengths included' {
            $cal = $Sentences[0] | ConvertTo-TokenSample -Vocabulary $MiniLmVocab -BatchSize 8 | Measure-Calibration -Model $Model -Method MinMax
            $cal.SampleCount | Should -Be 16
            $cal.ErrorCount | Should -Be 0
        }

        It 'feeds Compare-QuantAccuracy -Embedding: float against itself keeps every embedding and ranking' {
            $r = $Sentences[1] | ConvertTo-TokenSample -Vocabulary $MiniLmVocab -BatchSize 8 |
                Compare-QuantAccuracy -Reference $Model -Candidate $MiniLm -Embedding -QueryCount 5 -NoTiming
            $r.Embedding | Should -BeOfType ([EvoQuant.Evaluation.EmbeddingComparison])
            $r.Embedding.Rows | Should -Be 20
            $r.Embedding.Queries | Should -Be 5
            $r.Embedding.Documents | Should -Be 15
            $r.Embedding.MinCosine | Should -BeGreaterThan 0.99999
            $r.Embedding.SpearmanCorrelation | Should -BeGreaterThan 0.99999
            $r.Embedding.NeighbourAgreement | Should -Be 100
            $r.Embedding.Output | Should -Be 'last_hidden_state'
        }
    }
}
