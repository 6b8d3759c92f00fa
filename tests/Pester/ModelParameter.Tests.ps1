#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# -Model (and Compare-QuantAccuracy's -Reference and -Candidate) is a typed model reference: any form a
# user holds a model in binds, nothing is read while binding, and a model that does not load is the
# cmdlet's own error record with the ErrorId Get-OnnxGraph gives for that file, never a binding error.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Model = Get-OnnxGraph $FashionModel
    $script:Quantized = Invoke-Quantization -Model $Model -Dynamic -Path (Join-Path $TestDrive 'reference.dyn.onnx')

    $script:Missing = Join-Path $TestDrive 'missing.onnx'
    $script:Truncated = Join-Path $TestDrive 'truncated.onnx'
    [System.IO.File]::WriteAllBytes($Truncated, [System.IO.File]::ReadAllBytes($FashionModel)[0..4999])
    # A weight whose external data lies outside the model's folder.
    $folder = New-Item -ItemType Directory -Path (Join-Path $TestDrive 'model')
    $proto = $Model.Proto.Clone()
    $weight = $proto.Graph.Initializer | Where-Object { $_.Dims.Count -eq 4 } | Select-Object -First 1
    [System.IO.File]::WriteAllBytes((Join-Path $TestDrive 'SECRET.bin'), $weight.RawData.ToByteArray())
    $length = $weight.RawData.Length
    $weight.ClearRawData()
    $weight.DataLocation = [EvoQuant.Onnx.Proto.TensorProto+Types+DataLocation]::External
    foreach ($kv in @{ location = '../SECRET.bin'; length = "$length" }.GetEnumerator()) {
        $entry = [EvoQuant.Onnx.Proto.StringStringEntryProto]::new()
        $entry.Key = $kv.Key
        $entry.Value = $kv.Value
        $weight.ExternalData.Add($entry)
    }
    $script:Outside = Join-Path $folder 'outside.onnx'
    [System.IO.File]::WriteAllBytes($Outside, [Google.Protobuf.MessageExtensions]::ToByteArray($proto))

    $script:Out = Join-Path $TestDrive 'out.onnx'
    # Each cmdlet and parameter that takes a model, with the model to test in $args[0].
    $script:Calls = @{
        'Get-OnnxGraph -LiteralPath'           = { Get-OnnxGraph -LiteralPath $args[0] -ErrorAction Stop }
        'Invoke-Quantization -Model'           = { Invoke-Quantization -Model $args[0] -Dynamic -Path $Out -ErrorAction Stop }
        'Measure-Calibration -Model'           = { Measure-Calibration -Model $args[0] -InputPath $FashionTestDataSet -ErrorAction Stop }
        'Compare-QuantAccuracy -Reference'     = { Compare-QuantAccuracy -Reference $args[0] -Candidate $Quantized -InputPath $FashionTestDataSet -NoTiming -ErrorAction Stop }
        'Compare-QuantAccuracy -Candidate'     = { Compare-QuantAccuracy -Reference $Model -Candidate $args[0] -InputPath $FashionTestDataSet -NoTiming -ErrorAction Stop }
    }
}

Describe 'Typed model parameters' {
    Context 'a model that does not load gets the specific ErrorId of every cmdlet' {
        It '<Call> <Case>: <Reason>' -ForEach @(
            foreach ($call in 'Get-OnnxGraph -LiteralPath', 'Invoke-Quantization -Model', 'Measure-Calibration -Model', 'Compare-QuantAccuracy -Reference', 'Compare-QuantAccuracy -Candidate') {
                @{ Call = $call; Case = 'missing'; Reason = 'ModelNotFound'; Category = 'ObjectNotFound' }
                @{ Call = $call; Case = 'truncated'; Reason = 'ModelCorrupt'; Category = 'InvalidData' }
                @{ Call = $call; Case = 'outside'; Reason = 'ExternalDataOutsideFolder'; Category = 'SecurityError' }
            }
        ) {
            $file = @{ missing = $Missing; truncated = $Truncated; outside = $Outside }[$Case]
            $cmdlet = $Call.Split(' ')[0]
            $class = 'EvoQuant.PowerShell.Commands.' + $cmdlet.Replace('-', '') + 'Command'
            $err = $null
            try { & $Calls[$Call] $file } catch { $err = $_ }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -Be ($cmdlet.Replace('-', '') + $Reason + ',' + $class)
            $err.CategoryInfo.Category | Should -Be $Category
            $err.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
            $err.Exception | Should -BeOfType ([EvoQuant.Onnx.OnnxModelException])
            Test-Path $Out | Should -BeFalse
        }
    }

    Context 'binding' {
        It 'takes a path, a FileInfo, a model object and a wrapped result as -Model' {
            foreach ($value in $FashionModel, (Get-Item $FashionModel), $Model, [pscustomobject]@{ Model = $Model }) {
                $q = Invoke-Quantization -Model $value -Dynamic -Path $Out -Force -ErrorAction Stop
                $q.SourceModel.Path | Should -Be (Get-Item $FashionModel).FullName
            }
        }

        It 'resolves a relative path against the PowerShell location when binding' {
            Push-Location (Split-Path $FashionModel)
            try { $q = Invoke-Quantization -Model (Split-Path -Leaf $FashionModel) -Dynamic -Path $Out -Force -ErrorAction Stop }
            finally { Pop-Location }
            $q.SourceModel.Path | Should -Be (Get-Item $FashionModel).FullName
        }

        It 'binds models, paths and FileInfo from the pipeline by value' {
            $dir = New-Item -ItemType Directory -Path (Join-Path $TestDrive 'piped') -Force
            $FashionModel | Invoke-Quantization -Dynamic -Path $dir -Force -ErrorAction Stop | ForEach-Object Path | Should -Be (Join-Path $dir 'fashion-cnn.quant.onnx')
            Get-Item $FashionModel | Invoke-Quantization -Dynamic -Path $dir -Force -ErrorAction Stop | Should -HaveCount 1
            $Model | Invoke-Quantization -Dynamic -Path $dir -Force -ErrorAction Stop | Should -HaveCount 1
        }

        It 'takes the reference of a piped result by property name (SourceModel)' {
            $r = $Quantized | Compare-QuantAccuracy -InputPath $FashionTestDataSet -NoTiming
            $r.Summary.Reference | Should -Be (Get-Item $FashionModel).FullName
        }

        It 'refuses a value that names no model while binding' {
            { Invoke-Quantization -Model @{ a = 1 } -Dynamic -Path $Out } |
                Should -Throw -ErrorId 'ParameterArgumentTransformationError,EvoQuant.PowerShell.Commands.InvokeQuantizationCommand'
        }

        It 'types -Model, -Reference and -Candidate as model references' {
            (Get-Command Invoke-Quantization).Parameters['Model'].ParameterType.Name | Should -Be 'ModelReference'
            (Get-Command Measure-Calibration).Parameters['Model'].ParameterType.Name | Should -Be 'ModelReference'
            (Get-Command Compare-QuantAccuracy).Parameters['Reference'].ParameterType.Name | Should -Be 'ModelReference'
            (Get-Command Compare-QuantAccuracy).Parameters['Candidate'].ParameterType.Name | Should -Be 'ModelReference'
        }
    }
}
