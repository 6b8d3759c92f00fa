# The main job: the EvoQuant pipeline on the Fashion-MNIST CNN in ../shared/models.
#   pwsh:          ./examples/quantize-fashion.ps1
#   only the .NET SDK: dotnet tool restore && dotnet pwsh ./build.ps1 -Task Demo
# Loads the float model, calibrates it on 200 images (Percentile), writes a static QDQ int8 per-channel
# model, compares float and int8 on the 2000 labelled test images, and times both on this CPU.
param(
    [string]$ModelDir = "$PSScriptRoot/../../shared/models",
    [string]$OutDir = "$PSScriptRoot/../out/examples",
    [ValidateSet('MinMax', 'Entropy', 'Percentile')]
    [string]$Method = 'Percentile'
)
$ErrorActionPreference = 'Stop'
if (-not (Get-Module EvoQuant)) { Import-Module "$PSScriptRoot/../out/EvoQuant/EvoQuant.psd1" }
$null = [System.IO.Directory]::CreateDirectory($OutDir)

$m = Get-OnnxGraph -Path "$ModelDir/fashion-cnn.onnx"
"Model       : {0} (IR {1}, opset {2}, {3} nodes, {4:N0} parameters, {5:N1} KB)" -f $m.Name, $m.IrVersion, $m.DefaultOpset, $m.NodeCount, $m.ParameterCount, ($m.FileSize / 1KB)

# One pipeline: each cmdlet's output carries what the next one needs (the table its model, the result its
# source). Asymmetric activation ranges let each ReLU6 fold into its producer's quantization.
$report = $m |
    Measure-Calibration -InputPath "$ModelDir/fashion-calib-200.x.npy" -Method $Method -Symmetric:$false |
    Invoke-Quantization -PerChannel -Path "$OutDir/fashion-cnn.int8.onnx" -Force |
    ForEach-Object { $script:q = $_; $_ } |
    Compare-QuantAccuracy -InputPath "$ModelDir/fashion-test-2000.x.npy" -Label "$ModelDir/fashion-test-2000.y.npy" -PerTensor

"Calibration : {0}, 200 images" -f $Method
"Quantized   : {0} ({1} {2}, weights {3}{4})" -f [System.IO.Path]::GetRelativePath("$PSScriptRoot/..", $q.Path), $q.Mode, $q.Format, $q.WeightType, $(if ($q.PerChannel) { ' per channel' } else { '' })
"Types       : activations {0}, weights {1}{2}" -f $q.ActivationType, $q.WeightType, $(if ($q.TargetDecisions.Count -gt 2) { " ($($q.TargetDecisions[2] -replace ':.*$', ''))" } else { '' })
"Nodes       : {0}; kept in float: {1}" -f (($q.QuantizedByOpType.GetEnumerator() | ForEach-Object { "$($_.Key) x$($_.Value)" }) -join ', '), $q.Skipped.Count
"Size        : {0:N1} KB -> {1:N1} KB ({2:N2}x smaller; weights {3:N2}x)" -f ($q.FileSizeBefore / 1KB), ($q.FileSizeAfter / 1KB), $q.SizeRatio, $q.WeightRatio
$s = $report.Summary
"Accuracy    : float {0:N2}%  int8 {1:N2}%  drop {2:N2} points  (top-1 agreement {3:N2}%, {4} images)" -f $s.ReferenceAccuracy, $s.CandidateAccuracy, $s.AccuracyDrop, $s.Top1Agreement, $s.Rows
$report.Outputs | ForEach-Object { "Output      : {0}: SQNR {1:N1} dB, cosine {2:N5}, max abs error {3:N4}" -f $_.Output, $_.Sqnr, $_.CosineSimilarity, $_.MaxAbsError }
# Timed on this machine (Compare-QuantAccuracy does it unless -NoTiming): median of interleaved runs.
if ($sp = $report.Speed) {
    "Speed       : int8 {0:N2}x float (batch {1} throughput), {2:N2}x at batch {3} ({4} ORT threads)" -f $sp.Speedup, $sp.Throughput.BatchSize, $sp.LatencySpeedup, $sp.Latency.BatchSize, $sp.Threads
    $isa = if ($sp.Cpu.Int8InstructionSets.Count) { $sp.Cpu.Int8InstructionSets -join ', ' } else { 'no int8 SIMD' }
    "Machine     : {0}, {1}; target {2}" -f $sp.Cpu.Model, $isa, $q.Target.Resolved
}
"Worst nodes (their own error, worst first):"
$report.Nodes | Where-Object { $_ } | ForEach-Object -Begin { $i = 0 } -Process { if ($i++ -lt 3) { "  {0,-40} {1,-8} {2,6:N1} dB" -f $_.Node, $_.OpType, $_.OwnSqnr } }
