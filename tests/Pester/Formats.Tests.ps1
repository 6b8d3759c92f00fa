#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Every default view of the module, rendered as pwsh renders it in an 80-column console (Out-String -Width 80):
# no line is wider than 80 characters and the key columns are there, first. Details are in the list views.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:DataSet = $FashionTestDataSet
    $script:Model = Get-OnnxGraph $FashionModel
    $script:Cal = Measure-Calibration -Model $Model -InputPath $DataSet -Method Entropy
    $script:Auto = Measure-Calibration -Model $Model -InputPath $DataSet -Method Auto
    $script:Quant = Invoke-Quantization -Model $Model -Calibration $Cal -PerChannel -ExcludeNode '*Gemm*' -Path (Join-Path $TestDrive 'a-rather-long-file-name-for-the-quantized-model.int8.onnx')
    $script:Report = $Quant | Compare-QuantAccuracy -InputPath $FashionTestX -Label (Read-NpyInt64 $FashionTestY)
    $script:PerTensor = $Quant | Compare-QuantAccuracy -InputPath $DataSet -PerTensor -TargetSqnr 40

    # What pwsh prints for these objects at 80 columns, without colours, as lines (trailing spaces dropped).
    function Show-At80($InputObject) {
        $PSStyle.OutputRendering = 'PlainText'
        @(($InputObject | Out-String -Width 80) -split '\r?\n' | ForEach-Object TrimEnd)
    }
    function Get-WideLine([string[]]$Lines) { @($Lines | Where-Object Length -gt 80) }
}

Describe 'Default views at 80 columns' {
    It '<Name>' -TestCases @(
        @{ Name = 'model';              Get = { $Model };                 Header = '^Name\s+IR\s+Opset\s+Nodes\s+Params\s+Size\s+Quantized' ; Row = '^fashion-cnn\.onnx\s+7\s+13\s+55\s+28[,. ]330\s+\d+[.,]\d KB\s+None' }
        @{ Name = 'nodes';              Get = { $Model.Nodes };           Header = '^Name\s+OpType\s+Inputs\s+Outputs'; Row = '^/stem/stem\.0/Conv\s+Conv\s' }
        @{ Name = 'initializers';       Get = { $Model.Initializers };    Header = '^Name\s+Type\s+Dims\s+Size\s+Source'; Row = '^fc\.weight\s+float32\s+\[10,32\]\s+\d+[.,]\d KB' }
        @{ Name = 'calibration table';  Get = { $Cal };                   Header = '^Model\s+Method\s+Settings\s+Samples\s+Errors\s+Tensors\s+Skipped'; Row = '^fashion-cnn\.onnx\s+Entropy\s+bins 128, q 128\s+8\s+0\s+\d+\s+\d+$' }
        @{ Name = 'tensor ranges';      Get = { $Cal.Ranges };            Header = '^Tensor\s+Method\s+RangeMin\s+RangeMax\s+Min\s+Max$'; Row = '^input\s+Entropy\s+-?\d[\d.]*\s+\d[\d.]*\s+-?\d[\d.]*\s+\d[\d.]*$' }
        @{ Name = 'auto calibration table'; Get = { $Auto };              Header = '^Model\s+Method\s+Settings'; Row = '^fashion-cnn\.onnx\s+Auto\s+[MEP] \d+' }
        @{ Name = 'auto choice';        Get = { $Auto.Ranges | Format-Table -View Choice }; Header = '^Tensor\s+Method\s+MinMaxMse\s+EntropyMse\s+PercentileMse\s+By$'; Row = '^input\s+(MinMax|Entropy|Percentile)\s+\d[\d.]*(E-\d+)?\s+\d.*\s(tensor|output)$' }
        @{ Name = 'skipped tensors';    Get = { [EvoQuant.Calibration.SkippedTensor]::new('/blocks/blocks.3/project/project.0/Conv_output_0_a_long_suffix', 'ONNX Runtime reports element type Int64, not float') }; Header = '^Tensor\s+Reason'; Row = '^/blocks/blocks\.3/' }
        @{ Name = 'quantization result'; Get = { $Quant };                Header = '^Name\s+Format\s+Mode\s+Types\s+Quantized\s+Skipped\s+Size'; Row = '^a-rather-long\S*\s+QDQ\s+Static\s+U?Int8/Int8\s+\d+\s+1\s+\d+[.,]\d KB \(\d[.,]\dx\)$' }
        @{ Name = 'quantized nodes';    Get = { $Quant.QuantizedNodes };  Header = '^Name\s+OpType'; Row = '^/stem/stem\.0/Conv\s+Conv' }
        @{ Name = 'skipped nodes';      Get = { $Quant.Skipped };         Header = '^Name\s+OpType\s+Reason'; Row = '^/fc/Gemm\s+Gemm\s+\S' }
        @{ Name = 'accuracy report';    Get = { $Report };                Header = '^Candidate\s+Rows\s+RefAcc\s+CandAcc\s+Drop'; Row = '^a-rather-long\S*\s+2[,. ]000\s+91[.,]25%\s+\d+[.,]\d\d%\s+-?\d' }
        @{ Name = 'output comparison';  Get = { $Report.Outputs };        Header = '^Output\s+Sqnr\s+Cosine'; Row = '^logits\s+\d+[.,]\d\s+\d[.,]\d{5}' }
        @{ Name = 'tensor comparison';  Get = { $PerTensor.Tensors };        Header = '^Tensor\s+Kind\s+OpType\s+Sqnr'; Row = '^\S+\s+Activation\s+Conv\s+\d+[.,]\d' }
        @{ Name = 'node comparison';    Get = { $PerTensor.Nodes };          Header = '^Node\s+OpType\s+OwnSqnr\s+AccumSqnr\s+OutQdqSqnr'; Row = '^/\S+\s+Conv\s+\d+[.,]\d' }
        @{ Name = 'accuracy search steps'; Get = { [EvoQuant.Evaluation.AccuracyDrivenStep]::new(2, [string[]]@('/stem/stem.0/Conv', '/fc/Gemm'), [string[]]@('/fc/Gemm'), 91.25, 91.1, 0.15, 31.5, 99.1, $true, $false) }; Header = '^Step\s'; Row = '^\s*2\s' }
    ) {
        $lines = Show-At80 (& $Get)
        $text = $lines -join "`n"
        Get-WideLine $lines | Should -BeNullOrEmpty -Because "every line fits 80 columns:`n$text"
        @($lines -match $Header) | Should -Not -BeNullOrEmpty -Because "the header shows the key columns:`n$text"
        @($lines -match $Row) | Should -Not -BeNullOrEmpty -Because "a row shows the key figures:`n$text"
    }

    It 'list views fit 80 columns too: <Name>' -TestCases @(
        @{ Name = 'model';               Get = { $Model | Format-List } }
        @{ Name = 'calibration table';   Get = { $Cal | Format-List } }
        @{ Name = 'auto calibration';    Get = { $Auto | Format-List } }
        @{ Name = 'quantization result'; Get = { $Quant | Format-List } }
        @{ Name = 'accuracy report';     Get = { $PerTensor | Format-List } }
        @{ Name = 'accuracy summary';    Get = { $Report.Summary } }
        @{ Name = 'suggestion';          Get = { $PerTensor.Suggestion } }
    ) {
        $lines = Show-At80 (& $Get)
        $lines.Count | Should -BeGreaterThan 2
        # A list value longer than the line wraps; the view itself must not produce wider lines.
        Get-WideLine $lines | Should -BeNullOrEmpty -Because ($lines -join "`n")
    }
}
