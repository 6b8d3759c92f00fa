#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
BeforeAll {
    $repo = Resolve-Path (Join-Path $PSScriptRoot '../..')
    Import-Module (Join-Path $repo 'out/EvoQuant/EvoQuant.psd1') -Force
    $script:Fashion = Join-Path $repo '../shared/models/fashion-cnn.onnx'
}

Describe 'Get-OnnxGraph' {
    Context 'loading' {
        It 'returns a model object with the facts of the model' {
            $m = Get-OnnxGraph -Path $script:Fashion
            $m | Should -BeOfType ([EvoQuant.Onnx.OnnxModel])
            $m.NodeCount | Should -Be 55
            $m.DefaultOpset | Should -Be 13
            $m.Inputs[0].Name | Should -Be 'input'
            $m.Outputs[0].Name | Should -Be 'logits'
            $m.QuantizationFormat | Should -Be 'None'
            ($m.Nodes | Where-Object OpType -eq 'Conv') | Should -HaveCount 16
        }

        It 'takes FileInfo objects from Get-ChildItem by property name' {
            Copy-Item $script:Fashion (Join-Path TestDrive: 'a.onnx')
            Copy-Item $script:Fashion (Join-Path TestDrive: 'b.onnx')
            $models = Get-ChildItem (Join-Path TestDrive: '*.onnx') | Get-OnnxGraph
            $models | Should -HaveCount 2
        }

        It 'expands wildcards in -Path but not in -LiteralPath' {
            Copy-Item $script:Fashion (Join-Path TestDrive: 'odd[1].onnx')
            (Get-OnnxGraph -LiteralPath (Join-Path TestDrive: 'odd[1].onnx')).Name | Should -Be 'odd[1].onnx'
        }
    }

    Context 'bad input' {
        It 'reports a missing file as ModelNotFound' {
            { Get-OnnxGraph -Path (Join-Path TestDrive: 'missing.onnx') -ErrorAction Stop } |
                Should -Throw -ErrorId 'GetOnnxGraphModelNotFound'
        }

        It 'reports an empty file as ModelEmpty' {
            $p = Join-Path TestDrive: 'empty.onnx'
            Set-Content -Path $p -Value $null -NoNewline
            { Get-OnnxGraph -LiteralPath $p -ErrorAction Stop } | Should -Throw -ErrorId 'GetOnnxGraphModelEmpty'
        }

        It 'reports a truncated model as ModelCorrupt' {
            $p = Join-Path TestDrive: 'truncated.onnx'
            [System.IO.File]::WriteAllBytes($p, [System.IO.File]::ReadAllBytes($script:Fashion)[0..4999])
            { Get-OnnxGraph -LiteralPath $p -ErrorAction Stop } | Should -Throw -ErrorId 'GetOnnxGraphModelCorrupt'
        }

        It 'reports a folder as PathIsDirectory' {
            { Get-OnnxGraph -LiteralPath $TestDrive -ErrorAction Stop } | Should -Throw -ErrorId 'GetOnnxGraphPathIsDirectory'
        }

        It 'keeps going after one bad item' {
            $out = $script:Fashion, (Join-Path TestDrive: 'nope.onnx'), $script:Fashion |
                Get-OnnxGraph -ErrorAction SilentlyContinue -ErrorVariable errs
            $out | Should -HaveCount 2
            $errs | Should -HaveCount 1
            $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        }
    }
}
