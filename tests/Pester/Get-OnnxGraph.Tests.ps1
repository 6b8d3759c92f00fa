#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

Describe 'Get-OnnxGraph' {
    Context 'loading' {
        It 'returns a model object with the facts of the model' {
            $m = Get-OnnxGraph -Path $FashionModel
            $m | Should -BeOfType ([EvoQuant.Onnx.OnnxModel])
            $m.NodeCount | Should -Be 55
            $m.DefaultOpset | Should -Be 13
            $m.IrVersion | Should -Be 7
            $m.Inputs[0].Name | Should -Be 'input'
            $m.Outputs[0].Name | Should -Be 'logits'
            $m.ParameterCount | Should -BeGreaterThan 28000
            $m.FileSize | Should -Be (Get-Item $FashionModel).Length
            $m.QuantizationFormat | Should -Be 'None'
            ($m.Nodes | Where-Object OpType -eq 'Conv') | Should -HaveCount 16
            $m.OpTypeCounts['Clip'] | Should -Be 11
        }

        It 'takes paths from the pipeline' {
            $models = $FashionModel, $FashionModel | Get-OnnxGraph
            $models | Should -HaveCount 2
            $models[0].Path | Should -Be $FashionModel
        }

        It 'takes FileInfo objects from Get-ChildItem by property name' {
            Copy-Item $FashionModel (Join-Path $TestDrive 'a.onnx')
            Copy-Item $FashionModel (Join-Path $TestDrive 'b.onnx')
            $models = Get-ChildItem (Join-Path $TestDrive '*.onnx') | Get-OnnxGraph
            $models | Should -HaveCount 2
            ($models | ForEach-Object Name | Sort-Object) -join ',' | Should -Be 'a.onnx,b.onnx'
        }

        It 'expands wildcards in -Path but not in -LiteralPath' {
            Copy-Item $FashionModel (Join-Path $TestDrive 'one.onnx')
            Copy-Item $FashionModel (Join-Path $TestDrive 'odd[1].onnx')
            (Get-OnnxGraph -Path (Join-Path $TestDrive 'on*.onnx')).Name | Should -Be 'one.onnx'
            (Get-OnnxGraph -LiteralPath (Join-Path $TestDrive 'odd[1].onnx')).Name | Should -Be 'odd[1].onnx'
        }

        It 'resolves relative paths against the PowerShell location' {
            Push-Location $ModelDir
            try { (Get-OnnxGraph ./fashion-cnn.onnx).Path | Should -Be $FashionModel }
            finally { Pop-Location }
        }

        It 'says what it loaded with -Verbose' {
            $verbose = Get-OnnxGraph $FashionModel -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
            ($verbose.Message -join "`n") | Should -Match '55 nodes'
        }
    }

    Context 'bad input' {
        It 'reports a missing file as ModelNotFound' {
            { Get-OnnxGraph -Path (Join-Path $TestDrive 'missing.onnx') -ErrorAction Stop } |
                Should -Throw -ErrorId 'GetOnnxGraphModelNotFound,EvoQuant.PowerShell.Commands.GetOnnxGraphCommand'
        }

        It 'reports a wildcard that matches nothing as PathNotFound' {
            { Get-OnnxGraph -Path (Join-Path $TestDrive 'nothing*.onnx') -ErrorAction Stop } |
                Should -Throw -ErrorId 'GetOnnxGraphPathNotFound,EvoQuant.PowerShell.Commands.GetOnnxGraphCommand'
        }

        It 'reports an empty file as ModelEmpty' {
            $p = Join-Path $TestDrive 'empty.onnx'
            [System.IO.File]::WriteAllBytes($p, [byte[]]@())
            { Get-OnnxGraph -LiteralPath $p -ErrorAction Stop } | Should -Throw -ErrorId 'GetOnnxGraphModelEmpty,EvoQuant.PowerShell.Commands.GetOnnxGraphCommand'
        }

        It 'reports a truncated model as ModelCorrupt' {
            $p = Join-Path $TestDrive 'truncated.onnx'
            [System.IO.File]::WriteAllBytes($p, [System.IO.File]::ReadAllBytes($FashionModel)[0..4999])
            { Get-OnnxGraph -LiteralPath $p -ErrorAction Stop } | Should -Throw -ErrorId 'GetOnnxGraphModelCorrupt,EvoQuant.PowerShell.Commands.GetOnnxGraphCommand'
        }

        It 'reports a folder as PathIsDirectory' {
            { Get-OnnxGraph -LiteralPath $TestDrive -ErrorAction Stop } | Should -Throw -ErrorId 'GetOnnxGraphPathIsDirectory,EvoQuant.PowerShell.Commands.GetOnnxGraphCommand'
        }

        It 'keeps going after one bad item and says what to do' {
            $out = $FashionModel, (Join-Path $TestDrive 'nope.onnx'), $FashionModel |
                Get-OnnxGraph -ErrorAction SilentlyContinue -ErrorVariable errs
            $out | Should -HaveCount 2
            $errs | Should -HaveCount 1
            $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $errs[0].TargetObject | Should -BeLike '*nope.onnx'
            $errs[0].ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        }
    }

    Context 'formatting' {
        It 'shows the model as a table that fits 80 columns' {
            $text = Get-OnnxGraph $FashionModel | Format-Table | Out-String -Width 80
            $text | Should -Match 'Name\s+IR\s+Opset\s+Nodes'
            $text | Should -Match 'fashion-cnn\.onnx\s+7\s+13\s+55'
            $text | Should -Match '\s2\d[,. ]\d{3}\s'
            $text | Should -Match '\d+[.,]\d KB'
        }

        It 'shows the model as a list with inputs, outputs and op types' {
            $text = Get-OnnxGraph $FashionModel | Format-List | Out-String
            $text | Should -Match 'input: float32\[N,1,28,28\]'
            $text | Should -Match 'Conv x16'
        }

        It 'shows nodes and initializers as tables' {
            $m = Get-OnnxGraph $FashionModel
            ($m.Nodes | Format-Table | Out-String) | Should -Match '/stem/stem.0/Conv\s+Conv'
            ($m.Initializers | Format-Table | Out-String) | Should -Match 'fc\.weight\s+float32\s+\[10,32\]'
        }
    }

    Context 'help' {
        It 'has a synopsis, parameter help and at least two examples' {
            $help = Get-Help Get-OnnxGraph -Full
            $help.Synopsis | Should -Match 'ONNX models'
            (Get-Help Get-OnnxGraph -Examples).examples.example.Count | Should -BeGreaterOrEqual 2
            (Get-Help Get-OnnxGraph -Parameter LiteralPath).description.Text | Should -Match 'as typed'
        }

        It 'has the about_EvoQuant topic' {
            (Get-Help about_EvoQuant | Out-String) | Should -Match 'Measure-Calibration'
        }
    }
}
