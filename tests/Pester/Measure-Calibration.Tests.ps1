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
            $cal | Should -BeOfType ([EvoQuant.Calibration.CalibrationTable])
            $cal.Settings.Method | Should -Be 'MinMax'
            $cal.SampleCount | Should -Be 200
            $cal.ErrorCount | Should -Be 0
            $cal.Ranges.Tensor | Should -Contain 'input'
            $cal.Ranges.Tensor | Should -Contain 'logits'
            $row = $cal.Ranges | Where-Object Tensor -eq 'input'
            $row.Min | Should -BeLessThan 0
            $row.Max | Should -BeGreaterThan $row.Min
            $row.RangeMin | Should -Be $row.Min
            $row.ElementCount | Should -Be (200 * 784)
        }

        It 'takes samples from the pipeline: files, folders and hashtables' {
            $fromFile = Get-Item $FashionCalib | Measure-Calibration -Model $Model
            $fromFile.SampleCount | Should -Be 200
            $fromFolder = Get-Item $FashionTestDataSet | Measure-Calibration -Model $Model
            $fromFolder.SampleCount | Should -Be 8
            $fromPaths = $FashionCalib, $FashionTestDataSet | Measure-Calibration -Model $Model
            $fromPaths.SampleCount | Should -Be 208
            $image = [float[]]::new(784)
            $fromHashtable = @{ input = $image }, @{ input = $image } | Measure-Calibration -Model $Model
            $fromHashtable.SampleCount | Should -Be 2
        }

        It 'takes the model as a path, or first on the pipeline' {
            $cal = Measure-Calibration -Model $FashionModel -InputPath $FashionTestDataSet
            $cal.SampleCount | Should -Be 8
            $piped = Get-OnnxGraph $FashionModel | Measure-Calibration -InputPath $FashionTestDataSet
            $piped.SampleCount | Should -Be 8
        }

        It 'clips outliers with Entropy (2048 bins) and Percentile compared with MinMax' -TestCases @(
            @{ Method = 'Entropy'; Bins = 2048 }, @{ Method = 'Percentile'; Bins = 2048 }
        ) {
            $minMax = Measure-Calibration -Model $Model -InputPath $FashionCalib -Method MinMax
            $other = Measure-Calibration -Model $Model -InputPath $FashionCalib -Method $Method -Bins $Bins
            $other.Settings.Method | Should -Be $Method
            foreach ($row in $other.Ranges) {
                $ref = $minMax.Ranges | Where-Object Tensor -eq $row.Tensor
                $row.AbsMax | Should -BeLessOrEqual ($ref.AbsMax + 1e-4) -Because $row.Tensor
            }
            ($other.Ranges | Where-Object { $_.AbsMax -lt ($minMax.Ranges | Where-Object Tensor -eq $_.Tensor).AbsMax * 0.999 }) |
                Should -Not -BeNullOrEmpty -Because 'some tail is clipped'
        }

        It 'passes what was not given to Core: Percentile is symmetric unless -Symmetric:$false, MinMax asymmetric unless -Symmetric' {
            $default = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -Method Percentile
            $default.Settings.Symmetric | Should -BeTrue
            $default.Settings.Percentile | Should -Be ([EvoQuant.Calibration.CalibrationOptions]::new().Percentile)
            $default.Settings.EffectiveBins | Should -Be 2048
            foreach ($row in $default.Ranges) { $row.RangeMin | Should -Be (-$row.RangeMax) -Because $row.Tensor }
            $asymmetric = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -Method Percentile -Symmetric:$false
            $asymmetric.Settings.Symmetric | Should -BeFalse
            @($asymmetric.Ranges | Where-Object { $_.RangeMin -ne -$_.RangeMax }) | Should -Not -BeNullOrEmpty
            (Measure-Calibration -Model $Model -InputPath $FashionTestDataSet).Settings.Symmetric | Should -BeFalse
            (Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -Symmetric).Settings.Symmetric | Should -BeTrue
        }

        It 'keeps every whole range with Entropy''s default 128 bins, as ONNX Runtime''s tool does' {
            $minMax = Measure-Calibration -Model $Model -InputPath $FashionCalib -Method MinMax
            $entropy = Measure-Calibration -Model $Model -InputPath $FashionCalib -Method Entropy
            foreach ($row in $entropy.Ranges) {
                $ref = $minMax.Ranges | Where-Object Tensor -eq $row.Tensor
                $row.RangeMax | Should -Be $ref.RangeMax -Because $row.Tensor
                $row.RangeMin | Should -Be $ref.RangeMin -Because $row.Tensor
            }
        }

        It 'derives each ReLU6 output''s Entropy histogram from its input''s values, and says so with -Verbose' {
            $out = Measure-Calibration -Model $Model -InputPath $FashionCalib -Method Entropy -Bins 2048 -Verbose 4>&1
            $cal = $out | Where-Object { $_ -is [EvoQuant.Calibration.CalibrationTable] }
            $messages = ($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message
            ($messages -match '^12 histograms follow') | Should -HaveCount 1 -Because '11 ReLU6 outputs and the Flatten'
            $clips = $cal.Ranges | Where-Object Tensor -like '*Clip_output_0'
            $clips | Should -HaveCount 11
            foreach ($row in $clips) {
                $row.Min | Should -BeGreaterOrEqual 0 -Because $row.Tensor
                $row.Max | Should -BeLessOrEqual 6 -Because $row.Tensor
                $sum = 0
                foreach ($c in $row.Histogram.Counts) { $sum += $c }
                $sum | Should -Be $row.ElementCount -Because "$($row.Tensor) counts every value once"
            }
        }

        It 'restricts the tensors with -OpType and -ExcludeNode' {
            $all = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet
            $gemm = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -OpType Gemm
            $gemm.Count | Should -BeLessThan $all.Count
            $gemm.Count | Should -BeGreaterThan 0
            $noStem = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -IncludeNode '/stem/stem.0/Conv'
            $noStem.Count | Should -BeLessThan $all.Count
        }
    }

    Context 'saving and merging' {
        It 'saves the table with -OutFile and reads it back with Import-CalibrationTable' {
            $file = Join-Path $TestDrive 'fashion.calib.json'
            $cal = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -OutFile $file
            Test-Path $file | Should -BeTrue
            $back = [EvoQuant.Calibration.CalibrationTable]::Load($file)
            $back.SampleCount | Should -Be $cal.SampleCount
            $back.Count | Should -Be $cal.Count
        }

        It 'writes calibration.cache text when -OutFile ends in .cache' {
            $file = Join-Path $TestDrive 'calibration.cache'
            $cal = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -OutFile $file
            Get-Content $file | Should -HaveCount $cal.Count
            (Get-Content $file -TotalCount 1) | Should -Match '^\S.* [0-9][0-9.eE+-]*$'
        }

        It 'never writes -OutFile over the model or the samples, even with -Force' {
            $modelCopy = Join-Path $TestDrive 'own.onnx'
            $samples = Join-Path $TestDrive 'own.npy'
            Copy-Item $FashionModel $modelCopy
            Copy-Item $FashionCalib $samples
            $hash = { param($p) [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData([IO.File]::ReadAllBytes($p))) }
            $before = (& $hash $modelCopy), (& $hash $samples)
            { Measure-Calibration -Model $modelCopy -InputPath $samples -OutFile $modelCopy -Force -ErrorAction Stop } |
                Should -Throw -ErrorId 'MeasureCalibrationOutputIsInput,EvoQuant.PowerShell.Commands.MeasureCalibrationCommand'
            { Measure-Calibration -Model $modelCopy -InputPath $samples -OutFile $samples -Force -ErrorAction Stop } |
                Should -Throw -ErrorId 'MeasureCalibrationOutputIsInput,EvoQuant.PowerShell.Commands.MeasureCalibrationCommand'
            ((& $hash $modelCopy), (& $hash $samples)) | Should -Be $before
        }

        It 'replaces an existing -OutFile only with -Force' {
            $file = Join-Path $TestDrive 'kept.json'
            [IO.File]::WriteAllText($file, 'precious')
            { Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -OutFile $file -ErrorAction Stop } |
                Should -Throw -ErrorId 'MeasureCalibrationOutputExists,EvoQuant.PowerShell.Commands.MeasureCalibrationCommand'
            [IO.File]::ReadAllText($file) | Should -Be 'precious'
            $null = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -OutFile $file -Force
            [IO.File]::ReadAllText($file) | Should -Match '^\{'
        }

        It 'writes no -OutFile with -WhatIf, but still returns the table' {
            $file = Join-Path $TestDrive 'whatif.calib.json'
            $cal = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -OutFile $file -WhatIf
            Test-Path $file | Should -BeFalse
            $cal.SampleCount | Should -Be 8
        }

        It 'merges tables of shards into the table of the whole' {
            $whole = Measure-Calibration -Model $Model -InputPath $FashionCalib -Method MinMax
            $part1 = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -Method MinMax
            $part2 = Measure-Calibration -Model $Model -InputPath $FashionCalib -Method MinMax
            $merged = Measure-Calibration -Model $Model -Method MinMax -InputPath $FashionTestDataSet -Merge $part2
            $merged.SampleCount | Should -Be ($part1.SampleCount + $part2.SampleCount)
            foreach ($row in $whole.Ranges) {
                $m = $merged.Ranges | Where-Object Tensor -eq $row.Tensor
                $m.Max | Should -BeGreaterOrEqual $row.Max
                $m.Min | Should -BeLessOrEqual $row.Min
            }
            $static = [EvoQuant.Calibration.CalibrationTable]::Merge([EvoQuant.Calibration.CalibrationTable[]]@($part1, $part2))
            $static.SampleCount | Should -Be $merged.SampleCount
        }

        It 'continues a table with -Merge exactly as one Entropy run over both shards' {
            # The grid is set by the first batch: batches of 8 make the test set's 8 images the whole run's first.
            $first = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -Method Entropy -Bins 2048 -BatchSize 8
            $continued = Measure-Calibration -Model $Model -InputPath $FashionCalib -Method Entropy -Bins 2048 -BatchSize 8 -Merge $first
            $whole = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet, $FashionCalib -Method Entropy -Bins 2048 -BatchSize 8
            $continued.SampleCount | Should -Be $whole.SampleCount
            foreach ($row in $whole.Ranges) {
                $c = $continued[$row.Tensor]
                $c.RangeMin | Should -Be $row.RangeMin -Because $row.Tensor
                $c.RangeMax | Should -Be $row.RangeMax -Because $row.Tensor
                $c.Histogram.WidthExponent | Should -Be $row.Histogram.WidthExponent -Because $row.Tensor
                $c.Histogram.Total | Should -Be $row.Histogram.Total -Because $row.Tensor
            }
        }
    }

    Context 'errors' {
        It 'reports a -Model path that does not load with the model''s ErrorId, not as a binding error' {
            { Measure-Calibration -Model (Join-Path $TestDrive 'missing.onnx') -InputPath $FashionCalib -ErrorAction Stop } |
                Should -Throw -ErrorId 'MeasureCalibrationModelNotFound,EvoQuant.PowerShell.Commands.MeasureCalibrationCommand'
        }

        It 'refuses -Bins with -Method Auto, and continuing an Auto table, each with its own ErrorId' {
            { Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -Method Auto -Bins 512 -ErrorAction Stop } |
                Should -Throw -ErrorId 'MeasureCalibrationInvalidSettings,EvoQuant.PowerShell.Commands.MeasureCalibrationCommand'
            $auto = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -Method Auto
            { Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -Method Auto -Merge $auto -ErrorAction Stop } |
                Should -Throw -ErrorId 'MeasureCalibrationMergeMismatch,EvoQuant.PowerShell.Commands.MeasureCalibrationCommand'
        }

        It 'checks -Method Auto''s choice at the model''s outputs on -SearchRows rows of the -PerChannel model, says what it kept with -Verbose, and refuses -SearchBase' {
            $out = Measure-Calibration -Model $Model -InputPath $FashionCalib -Method Auto -SearchRows 8 -PerChannel -Verbose 4>&1
            $auto = $out | Where-Object { $_ -is [EvoQuant.Calibration.CalibrationTable] }
            $messages = ($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message
            $auto.Settings.SearchRows | Should -Be 8
            $check = $auto.Ranges[0].ModelChoice
            $check.Rows | Should -Be 8
            $check.Scores | Should -HaveCount 4
            foreach ($r in $auto.Ranges) {
                $r.ModelChoice | Should -Be $check
                $r.Choice | Should -BeLike "*output SQNR * dB on 8 calibration rows*"
                if ($check.Uniform) { $r.Method | Should -Be $check.Uniform }
            }
            ($messages -like 'Auto chose *output*') | Should -HaveCount 1
            { Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -Method Auto -SearchBase MinMax -ErrorAction Stop } |
                Should -Throw -ErrorId 'MeasureCalibrationInvalidSettings,EvoQuant.PowerShell.Commands.MeasureCalibrationCommand'
            { Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -Method Entropy -PerChannel -ErrorAction Stop } |
                Should -Throw -ErrorId 'MeasureCalibrationInvalidSettings,EvoQuant.PowerShell.Commands.MeasureCalibrationCommand'
        }

        It 'reports -PerChannel that the model cannot be quantized with, for Auto''s check, as InvalidSettings' -Tag 'Full' {
            # Opset 9: per-channel DequantizeLinear needs opset 13 (or the contrib ops Invoke-Quantization does not use by default).
            # The PaddleOCR classifier comes from npm (tools/install-testdata.sh): the Full tier.
            $cls = Join-Path $RepoRoot '.testdata/npm/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx'
            $name = (Get-OnnxGraph $cls).Inputs[0].Name
            $x = [float[]]::new(2 * 3 * 48 * 192)
            for ($i = 0; $i -lt $x.Length; $i++) { $x[$i] = ($i % 97) / 97 }
            $t = [EvoQuant.Data.NamedTensor]::new($name, $x, [long[]](2, 3, 48, 192))
            { Measure-Calibration -Model $cls -InputObject $t -Method Auto -PerChannel -ErrorAction Stop } |
                Should -Throw -ErrorId 'MeasureCalibrationInvalidSettings,EvoQuant.PowerShell.Commands.MeasureCalibrationCommand'
            (Measure-Calibration -Model $cls -InputObject $t -Method Auto).Ranges[0].ModelChoice.Rows | Should -Be 2
        }

        It 'searches the layer inputs and weights with -Method EQ, never below the base cosine, hands the weight factors to Invoke-Quantization, and refuses its options without it' {
            $eq = Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -Method EQ -SearchRows 8 -PerChannel
            $eq.Settings.Method | Should -Be 'EQ'
            $eq.Settings.SearchRows | Should -Be 8
            $searched = @($eq.Ranges | Where-Object Search)
            $searched.Count | Should -BeGreaterThan 0
            foreach ($r in $searched) {
                $r.Method | Should -Be 'EQ'
                $r.Search.Cosine | Should -BeGreaterOrEqual $r.Search.BaseCosine
                $r.Choice | Should -BeLike 'EQ: x* of MinMax*, cosine *'
                foreach ($w in $r.Search.Weights) { $w.Cosine | Should -BeGreaterOrEqual $w.BaseCosine }
            }
            @($searched.Search.Weights).Count | Should -BeGreaterThan 0
            # The weight factors go with the table to Invoke-Quantization.
            $moved = @($searched.Search.Weights | Where-Object Factor -ne 1)
            $eq.WeightScaleFactors.Count | Should -Be $moved.Count
            $moved.Count | Should -BeGreaterThan 0
            # Invoke-Quantization multiplies the weight's scales by its factor, from the table or its saved
            # file; given the ranges alone, or a -TensorOverride of the weight, it does not.
            $w = $moved[0]
            $file = Join-Path $TestDrive 'eq.json'
            $eq | Export-CalibrationTable -Path $file
            $ranges = @{}
            foreach ($r in $eq.Ranges) { $ranges[$r.Tensor] = @($r.RangeMin, $r.RangeMax) }
            $scales = { param($q) $q.Model.GetFloats($q.Model.Graph.GetConstant($q.Provenance.Tensors[$w.Weight].Scale)) }
            $plain = & $scales (Invoke-Quantization -Model $Model -Calibration $ranges -PerChannel -Path (Join-Path $TestDrive 'eq-plain.onnx'))
            $fromFile = & $scales (Invoke-Quantization -Model $Model -Calibration $file -PerChannel -Path (Join-Path $TestDrive 'eq-file.onnx'))
            $overridden = & $scales ($eq | Invoke-Quantization -PerChannel -TensorOverride @{ $w.Weight = @{ Type = 'QInt8' } } -Path (Join-Path $TestDrive 'eq-ov.onnx'))
            $plain.Count | Should -BeGreaterThan 1
            for ($c = 0; $c -lt $plain.Count; $c++) {
                $fromFile[$c] | Should -Be ([float]($plain[$c] * $w.Factor))
                $overridden[$c] | Should -Be $plain[$c]
            }
            { Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -SearchRows 8 -ErrorAction Stop } |
                Should -Throw -ErrorId 'MeasureCalibrationInvalidSettings,EvoQuant.PowerShell.Commands.MeasureCalibrationCommand'
            { Measure-Calibration -Model $Model -InputPath $FashionTestDataSet -Method EQ -Merge $eq -ErrorAction Stop } |
                Should -Throw -ErrorId 'MeasureCalibrationMergeMismatch,EvoQuant.PowerShell.Commands.MeasureCalibrationCommand'
        }

        It 'reports a missing sample file' {
            { Measure-Calibration -Model $Model -InputPath (Join-Path $TestDrive 'missing.npy') -ErrorAction Stop } |
                Should -Throw -ErrorId 'MeasureCalibrationInputNotFound,EvoQuant.PowerShell.Commands.MeasureCalibrationCommand'
        }

        It 'reports a sample of the wrong shape as SampleMismatch and goes on with the others' {
            { @{ input = [float[]]::new(5) } | Measure-Calibration -Model $Model -ErrorAction Stop } |
                Should -Throw -ErrorId 'MeasureCalibrationSampleMismatch,EvoQuant.PowerShell.Commands.MeasureCalibrationCommand'
            $image = [float[]]::new(784)
            $cal = @{ input = [float[]]::new(5) }, @{ input = $image } |
                Measure-Calibration -Model $Model -ErrorAction SilentlyContinue -ErrorVariable errs
            $cal.SampleCount | Should -Be 1
            $errs | Should -HaveCount 1
        }

        It 'needs samples' {
            { Measure-Calibration -Model $Model -ErrorAction Stop } | Should -Throw -ErrorId 'MeasureCalibrationNoSamples,EvoQuant.PowerShell.Commands.MeasureCalibrationCommand'
        }

        It 'rejects an unknown method, naming the methods' {
            { Measure-Calibration -Model $Model -InputPath $FashionCalib -Method Median } |
                Should -Throw -ErrorId 'CannotConvertArgumentNoMessage,EvoQuant.PowerShell.Commands.MeasureCalibrationCommand' -ExpectedMessage '*MinMax, Entropy, Percentile*'
        }
    }

    Context 'completion and help' {
        It 'completes node names and op types of the model on the command line' {
            $line = "Measure-Calibration -Model '$FashionModel' -ExcludeNode /stem/stem.0/C"
            (Get-TabCompletion $line).CompletionText | Should -Contain '/stem/stem.0/Conv'
            (Get-TabCompletion "Measure-Calibration -Model '$FashionModel' -OpType Ge").CompletionText | Should -Be 'Gemm'
            (Get-TabCompletion 'Measure-Calibration -Method ').CompletionText | Sort-Object | Should -Be @('Auto', 'Entropy', 'EQ', 'MinMax', 'Percentile')
        }

        It 'documents every parameter and has examples' {
            (Get-Help Measure-Calibration -Examples).examples.example.Count | Should -BeGreaterOrEqual 2
            foreach ($p in (Get-Command Measure-Calibration).Parameters.Keys | Where-Object { $_ -notin [System.Management.Automation.Cmdlet]::CommonParameters }) {
                (Get-Help Measure-Calibration -Parameter $p).description.Text | Should -Not -BeNullOrEmpty
            }
        }
    }
}
