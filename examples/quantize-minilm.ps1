# A sentence-embedding transformer (all-MiniLM-L6-v2) quantized from real text, dynamic and static int8:
#   1. real English sentences (Debian's fortunes), split into calibration and evaluation sets that do not overlap,
#   2. sentences -> token ids (ConvertTo-TokenSample) -> Measure-Calibration, streamed batch by batch,
#   3. Invoke-Quantization, dynamic (no calibration) and static QDQ (with the table), EvoQuant's defaults,
#   4. Compare-QuantAccuracy -Embedding: cosine of each sentence's embedding to float, Spearman correlation of
#      query x document cosines, nearest-neighbour agreement, then both models timed.
#   pwsh:          ./examples/quantize-minilm.ps1
#   only the .NET SDK: dotnet tool restore && dotnet pwsh ./build.ps1 && dotnet pwsh ./examples/quantize-minilm.ps1
# The model, its vocabulary and the fortunes come from tools/install-testdata.sh (.testdata).
param(
    [string]$DataDir = "$PSScriptRoot/../.testdata",
    [string]$OutDir = "$PSScriptRoot/../out/examples/minilm",
    [int]$CalibrationCount = 64,
    [int]$EvaluationCount = 200,
    [int]$MaxLength = 128,
    [int]$Seed = 18
)
$ErrorActionPreference = 'Stop'
if (-not (Get-Module EvoQuant)) { Import-Module "$PSScriptRoot/../out/EvoQuant/EvoQuant.psd1" }
$null = [System.IO.Directory]::CreateDirectory($OutDir)

$model = Get-OnnxGraph -Path "$DataDir/transformers/minilm/model.onnx"
$vocab = "$DataDir/transformers/minilm/vocab.txt"
$corpus = [EvoQuant.Text.SentenceCorpus]::Load("$DataDir/fortunes")
$calibration, $evaluation = $corpus.Split($Seed, $CalibrationCount, $EvaluationCount)
"Model       : {0}" -f $model
"Sentences   : {0} for calibration, {1} for evaluation (disjoint, of {2})" -f $calibration.Count, $evaluation.Count, $corpus.Sentences.Count

# Tokens stream into the calibration: one sample of 16 sentences at a time, padded to its longest sentence.
$cal = $calibration | ConvertTo-TokenSample -Vocabulary $vocab -MaxLength $MaxLength -BatchSize 16 |
    Measure-Calibration -Model $model
"Calibration : {0}" -f $cal

$candidates = [ordered]@{
    Dynamic = Invoke-Quantization -Model $model -Dynamic -Path "$OutDir/minilm.dyn.onnx" -Force
    Static  = Invoke-Quantization -Model $model -Calibration $cal -Path "$OutDir/minilm.int8.onnx" -Force
}
foreach ($name in $candidates.Keys) {
    $q = $candidates[$name]
    $r = $evaluation | ConvertTo-TokenSample -Vocabulary $vocab -MaxLength $MaxLength -BatchSize 32 |
        Compare-QuantAccuracy -Reference $model -Candidate $q -Embedding -BatchSize 32
    $e = $r.Embedding
    "{0,-11} : {1:N1} MB -> {2:N1} MB; cosine mean {3:N4} min {4:N4}; Spearman {5:N4} ({6} x {7}); top-1 neighbours {8:N1}%; speed {9}" -f $name,
        ((Get-Item $model.Path).Length / 1MB), ((Get-Item $q.Path).Length / 1MB), $e.MeanCosine, $e.MinCosine,
        $e.SpearmanCorrelation, $e.Queries, $e.Documents, $e.NeighbourAgreement,
        $(if ($r.Speed) { '{0:N2}x float' -f $r.Speed.Speedup } else { 'not measured' })
}
