# Calibration spread over shards of the data, measured in parallel (ForEach-Object -Parallel: one runspace
# per shard, each with the module imported), saved, loaded and merged. Across machines the same loop is
#   Invoke-Command -ComputerName $hosts -ScriptBlock { Import-Module EvoQuant
#       Measure-Calibration -Model $using:modelPath -InputPath $using:shard | Export-CalibrationTable -Path $using:file }
# with each table copied back (or written to a share); Start-Job works the same way on one machine.
#   pwsh:          ./examples/calibrate-shards.ps1
#   only the .NET SDK: dotnet tool restore && dotnet pwsh ./build.ps1 && dotnet pwsh ./examples/calibrate-shards.ps1
param(
    [string]$ModelDir = "$PSScriptRoot/../../shared/models",
    [string]$OutDir = "$PSScriptRoot/../out/examples/shards",
    [ValidateSet('MinMax', 'Entropy', 'Percentile')]
    [string]$Method = 'Entropy'
)
$ErrorActionPreference = 'Stop'
if (-not (Get-Module EvoQuant)) { Import-Module "$PSScriptRoot/../out/EvoQuant/EvoQuant.psd1" }
$null = [System.IO.Directory]::CreateDirectory($OutDir)
$model = Get-OnnxGraph -Path "$ModelDir/fashion-cnn.onnx"

# Two shards: the 8 images of the ONNX test-data folder, and the 200 calibration images.
$shards = @("$ModelDir/fashion-cnn/test_data_set_0", "$ModelDir/fashion-calib-200.x.npy")

# Each shard measured and saved in its own runspace, in parallel. Runspaces share nothing: each imports
# the module and loads the model from its path.
$modulePath = (Get-Module EvoQuant).Path
$modelPath = $model.Path
$files = 0..($shards.Count - 1) | ForEach-Object -ThrottleLimit 2 -Parallel {
    Import-Module $using:modulePath
    $list = $using:shards
    $file = Join-Path $using:OutDir "shard$_.calib.json"
    $null = Get-OnnxGraph -Path $using:modelPath | Measure-Calibration -InputPath $list[$_] -Method $using:Method |
        Export-CalibrationTable -Path $file -Force
    $file
} | Sort-Object

# Collect: load the saved tables and merge them. Counts add up exactly; each shard's histograms are on the
# grid its first batch set, and the merge keeps the coarser of two grids, so a tensor whose shards started
# on different grids is merged at the coarser resolution.
$parts = $files | Import-CalibrationTable
$merged = [EvoQuant.Calibration.CalibrationTable]::Merge([EvoQuant.Calibration.CalibrationTable[]]$parts)
$whole = Measure-Calibration -Model $model -InputPath $shards -Method $Method
# A run that continues a saved table (-Merge) keeps its grid: exactly the table of one run over both shards.
$continued = Measure-Calibration -Model $model -InputPath $shards[1] -Method $Method -Merge $parts[0]

"Shards      : {0}" -f (($parts | ForEach-Object { "$($_.SampleCount) samples" }) -join ' + ')
"Merged      : {0} samples, {1} tensors" -f $merged.SampleCount, $merged.Count
"Whole run   : {0} samples, {1} tensors" -f $whole.SampleCount, $whole.Count
function Get-LargestDifference($a, $b) {
    $worst = 0.0
    foreach ($row in $a.Ranges) {
        $m = $b[$row.Tensor]
        $diff = [math]::Max([math]::Abs($m.RangeMin - $row.RangeMin), [math]::Abs($m.RangeMax - $row.RangeMax))
        if ($diff -gt $worst) { $worst = $diff }
    }
    $worst
}
$common = @($whole.Ranges | Where-Object { -not $_.Histogram -or $merged[$_.Tensor].Histogram.WidthExponent -eq $_.Histogram.WidthExponent }).Count
"Merged on the whole run's grid: {0} of {1} tensors; largest range difference: {2:G3}" -f $common, $whole.Count, (Get-LargestDifference $whole $merged)
"Largest range difference, continued vs whole: {0:G3}" -f (Get-LargestDifference $whole $continued)

# The merged table quantizes like any other.
$q = Invoke-Quantization -Model $model -Calibration $merged -PerChannel -Path "$OutDir/fashion-cnn.merged.int8.onnx" -Force
"Quantized   : {0} ({1:N1} KB)" -f $q.Path, ($q.FileSizeAfter / 1KB)
