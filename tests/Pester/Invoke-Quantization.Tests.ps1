#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Model = Get-OnnxGraph $FashionModel
    $script:Cal = Measure-Calibration -Model $Model -InputPath $FashionCalib
}

Describe 'Invoke-Quantization' {
    Context 'static and dynamic' {
        It 'writes a per-channel QDQ model from a piped model' {
            $out = Join-Path $TestDrive 'fashion.qdq.onnx'
            $q = $Model | Invoke-Quantization -Calibration $Cal -Format QDQ -PerChannel -Path $out
            $q | Should -BeOfType ([EvoQuant.Quantization.QuantizationResult])
            Test-Path $out | Should -BeTrue
            $q.Path | Should -Be $out
            $q.Model | Should -BeOfType ([EvoQuant.Onnx.OnnxModel])
            $q.PerChannel | Should -BeTrue
            $q.QuantizedByOpType['Conv'] | Should -Be 16
            $q.FileSizeBefore | Should -Be (Get-Item $FashionModel).Length
            $q.FileSizeAfter | Should -Be (Get-Item $out).Length
            $q.FileSizeAfter | Should -BeLessThan $q.FileSizeBefore
            $q.SizeRatio | Should -BeGreaterThan 1.5
            [math]::Abs($q.SizeRatio - $q.FileSizeBefore / $q.FileSizeAfter) | Should -BeLessThan 1e-6
            $q.WeightRatio | Should -BeGreaterThan 2.5
            (Get-OnnxGraph $out).QuantizationFormat | Should -Be 'QDQ'
        }

        It 'takes the calibration as a saved file or a hashtable of ranges' {
            $file = Join-Path $TestDrive 'cal.json'
            $Cal | Export-CalibrationTable -Path $file
            $fromFile = Invoke-Quantization -Model $Model -Calibration $file -Path (Join-Path $TestDrive 'from-file.onnx')
            $fromFile.QuantizedNodes.Count | Should -BeGreaterThan 0
            $ranges = @{}
            foreach ($r in $Cal.Ranges) { $ranges[$r.Tensor] = @($r.RangeMin, $r.RangeMax) }
            $fromHash = Invoke-Quantization -Model $Model -Calibration $ranges -Path (Join-Path $TestDrive 'from-hash.onnx')
            $fromHash.QuantizedNodes.Count | Should -Be $fromFile.QuantizedNodes.Count
        }

        It 'writes fashion-cnn.quant.onnx (the model name) when -Path is a folder' {
            $dir = Join-Path $TestDrive 'outdir'
            New-Item -ItemType Directory -Path $dir | Out-Null
            $q = Invoke-Quantization -Model $Model -Calibration $Cal -Path $dir
            $q.Path | Should -Be (Join-Path $dir 'fashion-cnn.quant.onnx')
            Test-Path $q.Path | Should -BeTrue
        }

        It 'writes a QOperator model' {
            $out = Join-Path $TestDrive 'fashion.qop.onnx'
            Invoke-Quantization -Model $Model -Calibration $Cal -Format QOperator -Path $out -ErrorAction Stop | Out-Null
            (Get-OnnxGraph $out).QuantizationFormat | Should -Be 'QOperator'
        }

        It 'quantizes dynamically without calibration' {
            $out = Join-Path $TestDrive 'fashion.dyn.onnx'
            $q = Invoke-Quantization -Model $FashionModel -Dynamic -Path $out -ErrorAction Stop
            Test-Path $out | Should -BeTrue
            $q.Mode | Should -Be 'Dynamic'
            $q.Model.IsQuantized | Should -BeTrue
        }

        It 'leaves excluded nodes in float and says why' {
            $q = Invoke-Quantization -Model $Model -Calibration $Cal -Path (Join-Path $TestDrive 'excl.onnx') -ExcludeNode '*Gemm*'
            $q.QuantizedNodes.Name | Should -Not -Contain '/fc/Gemm'
            $q.QuantizedByOpType.ContainsKey('Gemm') | Should -BeFalse
            ($q.Skipped | Where-Object Name -eq '/fc/Gemm').Reason | Should -Not -BeNullOrEmpty
        }

        It 'quantizes the model a piped calibration table carries' {
            $q = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet | Invoke-Quantization -Path (Join-Path $TestDrive 'piped-table.onnx')
            $q.QuantizedByOpType['Conv'] | Should -Be 16
        }

        It 'keeps nodes in float until -MinimumSqnr is met on -ValidationData' {
            $q = Invoke-Quantization -Model $Model -Calibration $Cal -Path (Join-Path $TestDrive 'accuracy.onnx') `
                -ValidationData $FashionTestDataSet -MinimumSqnr 35 -WarningAction SilentlyContinue
            $q.AccuracySteps.Count | Should -BeGreaterThan 0
            $q.TargetMet | Should -BeOfType ([bool])
            $q.ExcludedByAccuracySearch | ForEach-Object { $_ | Should -BeIn $Model.Nodes.Name }
            foreach ($n in $q.ExcludedByAccuracySearch) { $q.QuantizedNodes.Name | Should -Not -Contain $n }
            ($q.AccuracySteps | Format-Table | Out-String -Width 120) | Should -Match 'Step\s+InFloat\s+Sqnr'
        }

        It 'keeps nodes in float until -TargetAccuracyDrop is met with labels' {
            $labels = (Read-NpyInt64 $FashionTestY)[0..7]
            $q = Invoke-Quantization -Model $Model -Calibration $Cal -Path (Join-Path $TestDrive 'accuracy-labels.onnx') `
                -ValidationData $FashionTestDataSet -Label $labels -TargetAccuracyDrop 0 -WarningAction SilentlyContinue
            $q.TargetMet | Should -BeTrue   # 8 images: int8 keeps every top-1
            $q.AccuracySteps[-1].AccuracyDrop | Should -BeLessOrEqual 0
        }

        It 'does not change the input model object' {
            $before = $Model.NodeCount
            Invoke-Quantization -Model $Model -Calibration $Cal -Path (Join-Path $TestDrive 'again.onnx') | Out-Null
            $Model.NodeCount | Should -Be $before
            $Model.IsQuantized | Should -BeFalse
        }

        It 'lists what it quantized with -Verbose' {
            $verbose = Invoke-Quantization -Model $Model -Calibration $Cal -Path (Join-Path $TestDrive 'verbose.onnx') -Verbose 4>&1 |
                Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
            ($verbose.Message -join "`n") | Should -Match 'Quantized 16 Conv'
        }

        It 'searches weight scales with -WeightScale Admm and rounds at random, reproducibly, with -Rounding Stochastic' {
            $hash = { param($q) (Get-FileHash -LiteralPath $q.Path -Algorithm SHA256).Hash }
            $plain = Invoke-Quantization -Model $Model -Calibration $Cal -PerChannel -Path (Join-Path $TestDrive 'plain.onnx')
            $admm = Invoke-Quantization -Model $Model -Calibration $Cal -PerChannel -WeightScale Admm -Path (Join-Path $TestDrive 'admm.onnx')
            $s1 = Invoke-Quantization -Model $Model -Calibration $Cal -PerChannel -Rounding Stochastic -Seed 1 -Path (Join-Path $TestDrive 's1.onnx')
            $s1b = Invoke-Quantization -Model $Model -Calibration $Cal -PerChannel -Rounding Stochastic -Seed 1 -Path (Join-Path $TestDrive 's1b.onnx')
            $s2 = Invoke-Quantization -Model $Model -Calibration $Cal -PerChannel -Rounding Stochastic -Seed 2 -Path (Join-Path $TestDrive 's2.onnx')
            & $hash $admm | Should -Not -Be (& $hash $plain)
            & $hash $s1 | Should -Not -Be (& $hash $plain)
            & $hash $s1b | Should -Be (& $hash $s1)
            & $hash $s2 | Should -Not -Be (& $hash $s1)
            $admm.QuantizedNodes.Count | Should -Be $plain.QuantizedNodes.Count
        }
    }

    Context 'ShouldProcess' {
        It 'writes nothing with -WhatIf' {
            $out = Join-Path $TestDrive 'whatif.onnx'
            $result = Invoke-Quantization -Model $Model -Calibration $Cal -Path $out -WhatIf
            Test-Path $out | Should -BeFalse
            $result | Should -BeNullOrEmpty
        }

        It 'does not replace an existing file without -Force' {
            $out = Join-Path $TestDrive 'exists.onnx'
            Set-Content -Path $out -Value 'keep me'
            { Invoke-Quantization -Model $Model -Calibration $Cal -Path $out -ErrorAction Stop } |
                Should -Throw -ErrorId 'InvokeQuantizationOutputExists,EvoQuant.PowerShell.Commands.InvokeQuantizationCommand'
            Get-Content $out | Should -Be 'keep me'
            Invoke-Quantization -Model $Model -Calibration $Cal -Path $out -Force | Out-Null
            (Get-OnnxGraph $out).IsQuantized | Should -BeTrue
        }

        It 'never replaces the input model file, even with -Force' {
            $copy = Join-Path $TestDrive 'input.onnx'
            Copy-Item $FashionModel $copy
            { Invoke-Quantization -Model $copy -Calibration $Cal -Path $copy -Force -ErrorAction Stop } |
                Should -Throw -ErrorId 'InvokeQuantizationOutputIsInput,EvoQuant.PowerShell.Commands.InvokeQuantizationCommand'
            (Get-OnnxGraph $copy).IsQuantized | Should -BeFalse
        }
    }

    Context 'errors' {
        It 'needs -Calibration for static quantization' {
            { Invoke-Quantization -Model $Model -Path (Join-Path $TestDrive 'nocal.onnx') -ErrorAction Stop } |
                Should -Throw -ErrorId 'InvokeQuantizationInvalidArgument,EvoQuant.PowerShell.Commands.InvokeQuantizationCommand'
        }

        It 'reports a missing model as ModelNotFound' {
            { Invoke-Quantization -Model (Join-Path $TestDrive 'missing.onnx') -Calibration $Cal -Path (Join-Path $TestDrive 'x.onnx') -ErrorAction Stop } |
                Should -Throw -ErrorId 'InvokeQuantizationModelNotFound,EvoQuant.PowerShell.Commands.InvokeQuantizationCommand'
        }

        It 'reports a truncated model as InvalidData naming the file' {
            $bad = Join-Path $TestDrive 'bad.onnx'
            [System.IO.File]::WriteAllBytes($bad, [System.IO.File]::ReadAllBytes($FashionModel)[0..3999])
            $null = Invoke-Quantization -Model $bad -Dynamic -Path (Join-Path $TestDrive 'o.onnx') -ErrorAction SilentlyContinue -ErrorVariable errs
            $errs | Should -HaveCount 1
            $errs[0].CategoryInfo.Category | Should -Be 'InvalidData'
            $errs[0].Exception.Message | Should -BeLike '*bad.onnx*'
            Test-Path (Join-Path $TestDrive 'o.onnx') | Should -BeFalse
        }

        It 'needs -ValidationData (and -Label for an accuracy drop) for accuracy-driven quantization: the binder refuses' {
            # Mandatory in the accuracy-driven sets; a non-interactive pwsh refuses the call instead of prompting.
            $sets = (Get-Command Invoke-Quantization).ParameterSets | Where-Object Name -in 'MinimumSqnr', 'TargetAccuracyDrop'
            $sets | Should -HaveCount 2
            foreach ($set in $sets) { ($set.Parameters | Where-Object Name -eq ValidationData).IsMandatory | Should -BeTrue -Because $set.Name }
            $call = "Invoke-Quantization -Model '$FashionModel' -Calibration @{} -Path '$TestDrive/ad.onnx'"
            $r = Invoke-Pwsh -Command ("Import-Module '$RepoRoot/out/EvoQuant/EvoQuant.psd1'; " +
                "try { $call -MinimumSqnr 30 -ErrorAction Stop } catch { `$_.FullyQualifiedErrorId }; " +
                "try { $call -TargetAccuracyDrop 1 -ValidationData '$FashionTestDataSet' -ErrorAction Stop } catch { `$_.FullyQualifiedErrorId; `$_.Exception.Message }")
            # -MinimumSqnr may go with -TargetAccuracyDrop, so without -ValidationData the binder cannot choose a set.
            $r.Output[0] | Should -Be 'AmbiguousParameterSet,EvoQuant.PowerShell.Commands.InvokeQuantizationCommand'
            $r.Output[1] | Should -Be 'MissingMandatoryParameter,EvoQuant.PowerShell.Commands.InvokeQuantizationCommand'
            $r.Output[2] | Should -Match 'Label'
            Test-Path (Join-Path $TestDrive 'ad.onnx') | Should -BeFalse
        }

        It 'rejects an unknown format, naming the formats' {
            { Invoke-Quantization -Model $Model -Calibration $Cal -Path (Join-Path $TestDrive 'x.onnx') -Format Int4Magic } |
                Should -Throw -ErrorId 'CannotConvertArgumentNoMessage,EvoQuant.PowerShell.Commands.InvokeQuantizationCommand' -ExpectedMessage '*QDQ, QOperator*'
        }

        It 'rejects 16-bit activations with QOperator' {
            { Invoke-Quantization -Model $Model -Calibration $Cal -Format QOperator -ActivationType QInt16 -Path (Join-Path $TestDrive 'q16.onnx') -ErrorAction Stop } |
                Should -Throw -ErrorId 'InvokeQuantizationInvalidOptions,EvoQuant.PowerShell.Commands.InvokeQuantizationCommand'
        }
    }

    Context 'parameter sets' {
        It 'refuses <Case> while binding, before any work' -ForEach @(
            @{ Case = '-Calibration with -Dynamic'; Extra = @{ Dynamic = $true; Calibration = @{ x = 0, 1 } } }
            @{ Case = '-Format with -Dynamic'; Extra = @{ Dynamic = $true; Format = 'QOperator' } }
            @{ Case = '-ActivationType with -Dynamic'; Extra = @{ Dynamic = $true; ActivationType = 'QInt8' } }
            @{ Case = '-DedicatedQDQPair with -Dynamic'; Extra = @{ Dynamic = $true; DedicatedQDQPair = $true } }
            @{ Case = '-FoldBatchNormalization with -Dynamic'; Extra = @{ Dynamic = $true; FoldBatchNormalization = $true } }
            @{ Case = '-MinimumSqnr with -Dynamic'; Extra = @{ Dynamic = $true; MinimumSqnr = 30; ValidationData = @('x.npy') } }
            @{ Case = '-Label with -Dynamic'; Extra = @{ Dynamic = $true; Label = @(1) } }
        ) {
            $out = Join-Path $TestDrive 'refused.onnx'
            { Invoke-Quantization -Model $FashionModel -Path $out @Extra } |
                Should -Throw -ErrorId 'AmbiguousParameterSet,EvoQuant.PowerShell.Commands.InvokeQuantizationCommand'
            Test-Path $out | Should -BeFalse
        }

        It 'has one parameter set per mode, static the default' {
            $command = Get-Command Invoke-Quantization
            $command.DefaultParameterSet | Should -Be 'Static'
            $command.ParameterSets.Name | Sort-Object | Should -Be @('Dynamic', 'MinimumSqnr', 'Static', 'TargetAccuracyDrop', 'WeightOnly')
            $set = @{}
            foreach ($s in $command.ParameterSets) { $set[$s.Name] = @($s.Parameters | Where-Object IsMandatory | ForEach-Object Name | Sort-Object) }
            $set['Static'] | Should -Be @('Model', 'Path')
            $set['Dynamic'] | Should -Be @('Dynamic', 'Model', 'Path')
            $set['MinimumSqnr'] | Should -Be @('MinimumSqnr', 'Model', 'Path', 'ValidationData')
            $set['TargetAccuracyDrop'] | Should -Be @('Label', 'Model', 'Path', 'TargetAccuracyDrop', 'ValidationData')
            $set['WeightOnly'] | Should -Be @('Model', 'Path', 'WeightOnly')
        }

        It 'shows the parameter sets in Get-Command -Syntax and Get-Help' {
            $syntax = (Get-Command Invoke-Quantization -Syntax) -split '\r?\n' | Where-Object { $_ -match '\S' }
            $syntax | Should -HaveCount 5
            ($syntax | Where-Object { $_ -match '-Dynamic' }) | Should -Not -Match '-Calibration\b|-Format'
            ($syntax | Where-Object { $_ -match '-TargetAccuracyDrop <' }) | Should -Match '-Label <'
            $help = (Get-Help Invoke-Quantization).syntax.syntaxItem
            $help | Should -HaveCount 5
            foreach ($item in $help) {
                $names = @($item.parameter.name)
                $names | Should -Contain 'Model'
                $names | Should -Contain 'Path'
            }
            @($help | Where-Object { @($_.parameter.name) -contains 'Dynamic' }) | Should -HaveCount 1
        }

        It 'takes -Format as QuantFormat (<Value>)' -ForEach @(@{ Value = 'qdq'; Format = 'QDQ' }, @{ Value = 'QOPERATOR'; Format = 'QOperator' }) {
            (Get-Command Invoke-Quantization).Parameters['Format'].ParameterType | Should -Be ([EvoQuant.Quantization.QuantFormat])
            $q = Invoke-Quantization -Model $Model -Calibration $Cal -Format $Value -Path (Join-Path $TestDrive "format-$Value.onnx") -ErrorAction Stop
            $q.Format | Should -Be $Format
            $q.Model.QuantizationFormat | Should -Be $Format
        }
    }

    Context 'formatting, completion and help' {
        It 'shows the result as a table with sizes' {
            $q = Invoke-Quantization -Model $Model -Calibration $Cal -Path (Join-Path $TestDrive 'fmt.onnx')
            $text = $q | Format-Table | Out-String -Width 120
            $text | Should -Match 'fmt\.onnx\s+QDQ\s+Static'
            $text | Should -Match '\d+[.,]\d KB \(\d+[.,]\dx\)'
        }

        It 'completes node names and op types of the model on the command line' {
            (Get-TabCompletion "Invoke-Quantization -Model '$FashionModel' -ExcludeNode /stem/stem.0/C").CompletionText |
                Should -Contain '/stem/stem.0/Conv'
            (Get-TabCompletion "Invoke-Quantization -Model '$FashionModel' -OpType Ge").CompletionText | Should -Be 'Gemm'
            (Get-TabCompletion 'Invoke-Quantization -Format ').CompletionText | Sort-Object | Should -Be @('QDQ', 'QOperator')
            (Get-TabCompletion 'Invoke-Quantization -OpType Ta').CompletionText | Should -Contain 'Tanh'
            (Get-TabCompletion 'Invoke-Quantization -OpType Hard').CompletionText | Should -Contain 'HardSigmoid'
            $registry = [EvoQuant.Quantization.OpQuantizerRegistry]::Default
            (Get-TabCompletion 'Invoke-Quantization -Format QOperator -OpType ').CompletionText |
                Should -Be @($registry.SupportedOpTypes([EvoQuant.Quantization.QuantFormat]::QOperator))
        }

        It 'documents every parameter and has examples' {
            (Get-Help Invoke-Quantization -Examples).examples.example.Count | Should -BeGreaterOrEqual 2
            (Get-Help Invoke-Quantization -Parameter WhatIf).description.Text | Should -Match 'writes nothing'
            foreach ($p in (Get-Command Invoke-Quantization).Parameters.Keys | Where-Object { $_ -notin [System.Management.Automation.Cmdlet]::CommonParameters }) {
                (Get-Help Invoke-Quantization -Parameter $p).description.Text | Should -Not -BeNullOrEmpty -Because "-$p"
            }
        }
    }
}

Describe 'Invoke-Quantization -Dynamic on a transformer' {
    It 'keeps the first feed-forward down projection float, says so with -Verbose, and quantizes it when -IncludeNode names it' -Tag 'Full' {
        $miniLm = Join-Path $RepoRoot '.testdata/transformers/minilm/model.onnx'
        $verbose = Invoke-Quantization -Model $miniLm -Dynamic -SkipRuntimeCheck -Path (Join-Path $TestDrive 'minilm.dyn.onnx') -Verbose 4>&1
        $q = $verbose | Where-Object { $_ -is [EvoQuant.Quantization.QuantizationResult] }
        $messages = ($verbose | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message -join "`n"
        # That export names its first layer's [1536, 384] MatMul MatMul_122.
        $messages | Should -Match 'kept float: MatMul_122, the transformer''s first feed-forward down projection'
        @($q.Skipped | Where-Object Name -eq 'MatMul_122').Count | Should -Be 1
        @($q.QuantizedNodes | Where-Object OpType -eq 'MatMul').Count | Should -Be 35

        $all = Invoke-Quantization -Model $miniLm -Dynamic -SkipRuntimeCheck -IncludeNode '*' -Path (Join-Path $TestDrive 'minilm.all.onnx')
        @($all.QuantizedNodes | Where-Object Name -eq 'MatMul_122').Count | Should -Be 1
        @($all.QuantizedNodes | Where-Object OpType -eq 'MatMul').Count | Should -Be 36
    }
}
