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

# Runs a fresh pwsh (the one running the tests: `dotnet pwsh` runs pwsh.dll through dotnet) with -File or
# -Command, and returns its exit code, output lines and error text. $Environment adds or replaces variables.
function Invoke-Pwsh {
    param([string]$File, [string[]]$ArgumentList = @(), [string]$Command, [hashtable]$Environment = @{}, [string]$WorkingDirectory = $RepoRoot)
    $psi = [System.Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
    if ([System.IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') { $psi.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll')) }
    foreach ($a in '-NoProfile', '-NonInteractive') { $psi.ArgumentList.Add($a) }
    if ($File) { $psi.ArgumentList.Add('-File'); $psi.ArgumentList.Add($File); foreach ($a in $ArgumentList) { $psi.ArgumentList.Add($a) } }
    else { $psi.ArgumentList.Add('-Command'); $psi.ArgumentList.Add($Command) }
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.UseShellExecute = $false
    $psi.WorkingDirectory = $WorkingDirectory
    foreach ($k in $Environment.Keys) { $psi.Environment[$k] = [string]$Environment[$k] }
    $p = [System.Diagnostics.Process]::Start($psi)
    $stdout = $p.StandardOutput.ReadToEndAsync()
    $stderr = $p.StandardError.ReadToEndAsync()
    $p.WaitForExit()
    [pscustomobject]@{
        ExitCode = $p.ExitCode
        Output   = @($stdout.Result -split '\r?\n' | ForEach-Object TrimEnd | Where-Object { $_ })
        Error    = $stderr.Result
    }
}
