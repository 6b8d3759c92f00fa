# The main job: the EvoQuant pipeline on the Fashion-MNIST CNN in ../shared/models.
# pwsh:            ./examples/quantize-fashion.ps1
# without pwsh:    dotnet run --project tools/EvoQuant.Host -- examples/quantize-fashion.ps1
param(
    [string]$ModelDir = "$PSScriptRoot/../../shared/models",
    [string]$OutDir = "$PSScriptRoot/../out/examples"
)
$ErrorActionPreference = 'Stop'
if (-not (Get-Module EvoQuant)) { Import-Module "$PSScriptRoot/../out/EvoQuant/EvoQuant.psd1" }

$m = Get-OnnxGraph -Path "$ModelDir/fashion-cnn.onnx"
"Model      : {0} (IR {1}, opset {2}, {3} nodes, {4:N0} parameters, {5:N1} KB)" -f $m.Name, $m.IrVersion, $m.DefaultOpset, $m.NodeCount, $m.ParameterCount, ($m.FileSize / 1KB)
"Inputs     : {0}" -f (($m.Inputs | ForEach-Object { $_.ToString() }) -join '; ')
"Outputs    : {0}" -f (($m.Outputs | ForEach-Object { $_.ToString() }) -join '; ')
"Op types   : {0}" -f (($m.OpTypeCounts.GetEnumerator() | ForEach-Object { "$($_.Key) x$($_.Value)" }) -join ', ')
