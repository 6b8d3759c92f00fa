#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:MiniLm = Join-Path $RepoRoot '.testdata/transformers/minilm/model.onnx'
}

Describe 'Optimize-OnnxGraph' {
    It 'writes the optimized graph with its types and shapes, and reports what changed' {
        $out = Join-Path $TestDrive 'fashion.opt.onnx'
        $r = Optimize-OnnxGraph $FashionModel $out
        Test-Path $out | Should -BeTrue
        $r.Path | Should -Be $out
        $r.Level | Should -Be 'Basic'
        $r.NodesAfter | Should -BeLessOrEqual $r.NodesBefore
        $r.TypedTensors | Should -BeGreaterThan 0
        (Get-OnnxGraph $out).NodeCount | Should -Be $r.NodesAfter
    }

    It 'writes nothing with -WhatIf' {
        $out = Join-Path $TestDrive 'whatif.onnx'
        Optimize-OnnxGraph $FashionModel $out -WhatIf
        Test-Path $out | Should -BeFalse
    }

    It 'never overwrites its input' {
        $copy = Join-Path $TestDrive 'input.onnx'
        Copy-Item $FashionModel $copy
        $before = (Get-FileHash $copy).Hash
        Optimize-OnnxGraph $copy $copy -Force -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'OptimizeOnnxGraphOutputIsInput*'
        (Get-FileHash $copy).Hash | Should -Be $before
    }

    It 'replaces an existing output only with -Force' {
        $out = Join-Path $TestDrive 'exists.onnx'
        Set-Content $out 'keep'
        Optimize-OnnxGraph $FashionModel $out -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'OptimizeOnnxGraphOutputExists*'
        Get-Content $out | Should -Be 'keep'
        Optimize-OnnxGraph $FashionModel $out -Force | Out-Null
        (Get-OnnxGraph $out).NodeCount | Should -BeGreaterThan 0
    }

    It 'writes ONNX Runtime''s fused transformer ops at -Level Extended, which -Dynamic quantizes' -Tag 'Full' {
        $out = Join-Path $TestDrive 'minilm.fused.onnx'
        $r = Optimize-OnnxGraph $MiniLm $out -Level Extended
        @($r.OpTypesAdded.Keys | Where-Object { $_ -like 'com.microsoft.*' }).Count | Should -BeGreaterThan 0
        $r.TypedTensors | Should -BeGreaterThan ($r.NodesAfter / 2)
        $q = Invoke-Quantization $out -Dynamic -Path (Join-Path $TestDrive 'minilm.fused.int8.onnx')
        @($q.QuantizedNodes | Where-Object OpType -eq 'MatMul').Count | Should -BeGreaterThan 30
    }
}
