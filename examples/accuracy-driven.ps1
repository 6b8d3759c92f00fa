# Accuracy-driven quantization on the Fashion-MNIST CNN, by hand and automatically:
#   1. quantize everything, 2. compare per tensor to find the nodes that lose the most,
#   3. keep the suggested nodes in float and quantize again, 4. let Invoke-Quantization do the search.
#   pwsh:          ./examples/accuracy-driven.ps1
#   only the .NET SDK: dotnet tool restore && dotnet pwsh ./build.ps1 && dotnet pwsh ./examples/accuracy-driven.ps1
param(
    [string]$ModelDir = "$PSScriptRoot/../../shared/models",
    [string]$OutDir = "$PSScriptRoot/../out/examples/accuracy",
    # What the model's outputs must reach (dB).
    [double]$TargetSqnr = 30,
    # A node whose own error (quantized node on float inputs) is under this is suggested for float (dB).
    [double]$NodeSqnr = 40
)
$ErrorActionPreference = 'Stop'
if (-not (Get-Module EvoQuant)) { Import-Module "$PSScriptRoot/../out/EvoQuant/EvoQuant.psd1" }
$null = [System.IO.Directory]::CreateDirectory($OutDir)

$m = Get-OnnxGraph -Path "$ModelDir/fashion-cnn.onnx"
$validation = "$ModelDir/fashion-cnn/test_data_set_0"
$cal = Measure-Calibration -Model $m -InputPath "$ModelDir/fashion-calib-200.x.npy"

# 1-2. Everything quantized; where does the error come from?
$first = Invoke-Quantization -Model $m -Calibration $cal -Path "$OutDir/all.int8.onnx" -Force
$report = $first | Compare-QuantAccuracy -InputPath $validation -PerTensor -TargetSqnr $NodeSqnr
"All quantized       : output SQNR {0:N1} dB" -f $report.Summary.MinOutputSqnr
"Own error < {0} dB  : {1}" -f $NodeSqnr, ($report.Suggestion.ExcludeNode -join ', ')

# 3. Keep them in float.
$second = Invoke-Quantization -Model $m -Calibration $cal -Path "$OutDir/fewer.int8.onnx" -Force `
    -ExcludeNode $report.Suggestion.ExcludeNode
$after = $second | Compare-QuantAccuracy -InputPath $validation
"Suggestion excluded : output SQNR {0:N1} dB, {1} nodes quantized, {2} in float" -f $after.Summary.MinOutputSqnr, $second.QuantizedNodes.Count, $second.Skipped.Count

# 4. The same search, automatic: nodes go back to float, worst first, until the outputs reach the target.
$auto = Invoke-Quantization -Model $m -Calibration $cal -Path "$OutDir/auto.int8.onnx" -Force `
    -ValidationData $validation -MinimumSqnr $TargetSqnr -WarningAction SilentlyContinue
"Automatic search    : target met: {0} after {1} step(s); kept in float: {2}" -f $auto.TargetMet, $auto.AccuracySteps.Count, ($auto.ExcludedByAccuracySearch -join ', ')
