# Shared by the Pester suites: dot-source it in the file's top-level BeforeAll.
#   BeforeAll { . (Join-Path $PSScriptRoot 'Common.ps1') }
# Paths come from $PSScriptRoot, never from the current directory.
$RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
$ModelDir = (Resolve-Path (Join-Path $RepoRoot '../shared/models')).Path
$FashionModel = Join-Path $ModelDir 'fashion-cnn.onnx'
$FashionCalib = Join-Path $ModelDir 'fashion-calib-200.x.npy'
$FashionTestX = Join-Path $ModelDir 'fashion-test-2000.x.npy'
$FashionTestY = Join-Path $ModelDir 'fashion-test-2000.y.npy'
$FashionTestDataSet = Join-Path $ModelDir 'fashion-cnn/test_data_set_0'

Import-Module (Join-Path $RepoRoot 'out/EvoQuant/EvoQuant.psd1') -Force -ErrorAction Stop

# int64 labels from a NumPy .npy file (little-endian '<i8', C order).
function Read-NpyInt64([string]$Path) {
    $bytes = [System.IO.File]::ReadAllBytes($Path)
    $offset = 10 + [System.BitConverter]::ToUInt16($bytes, 8)
    $count = ($bytes.Length - $offset) / 8
    $values = [long[]]::new($count)
    [System.Buffer]::BlockCopy($bytes, $offset, $values, 0, $count * 8)
    , $values
}

# What Tab offers at the end of a command line.
function Get-TabCompletion([string]$Line) {
    (TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches
}
