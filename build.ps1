#requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests, benchmarks and packages the EvoQuant module.
.PARAMETER Task
    Build (default): lays out the importable module in out/EvoQuant.
    Test: xunit tests, then the Pester 5 suites in tests/Pester (Pester 5 is installed from the PowerShell Gallery when missing).
    Bench: BenchmarkDotNet benchmarks in bench/ (results in docs/benchmarks.md).
    Package: out/EvoQuant.<version>.nupkg that Install-PSResource accepts.
.EXAMPLE
    ./build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Bench', 'Package')]
    [string[]]$Task = 'Build',
    [ValidateSet('Debug', 'Release')]
    [string]$Configuration = 'Release'
)
$ErrorActionPreference = 'Stop'
$root = $PSScriptRoot
$moduleDir = Join-Path $root 'out/EvoQuant'

function Invoke-Native([string]$File, [string[]]$Arguments) {
    & $File @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$File $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Invoke-Build {
    Invoke-Native dotnet @('build', (Join-Path $root 'src/EvoQuant.PowerShell'), '-c', $Configuration)
    Test-ModuleManifest -Path (Join-Path $moduleDir 'EvoQuant.psd1') | Out-Null
    Write-Host "Module laid out in $moduleDir"
}

function Invoke-Test {
    Invoke-Native bash @((Join-Path $root 'tools/install-testdata.sh'))
    Invoke-Native dotnet @('test', (Join-Path $root 'EvoQuant.slnx'), '-c', $Configuration)
    if (-not (Get-Module -ListAvailable Pester | Where-Object Version -ge '5.0.0')) {
        Install-Module Pester -MinimumVersion 5.0.0 -Scope CurrentUser -Force -SkipPublisherCheck
    }
    Import-Module Pester -MinimumVersion 5.0.0
    $config = New-PesterConfiguration
    $config.Run.Path = Join-Path $root 'tests/Pester'
    $config.Run.Exit = $false
    $config.Run.Throw = $true
    $config.Output.Verbosity = 'Detailed'
    Invoke-Pester -Configuration $config
}

function Invoke-Bench {
    Invoke-Native dotnet @('run', '-c', 'Release', '--project', (Join-Path $root 'bench/EvoQuant.Bench'), '--', '--filter', '*')
}

function Invoke-Package {
    Invoke-Build
    $out = Join-Path $root 'out'
    $repoName = 'EvoQuantLocal'
    if (-not (Get-PSResourceRepository -Name $repoName -ErrorAction SilentlyContinue)) {
        Register-PSResourceRepository -Name $repoName -Uri $out -Trusted
    }
    Publish-PSResource -Path $moduleDir -Repository $repoName
    Get-ChildItem $out -Filter 'EvoQuant.*.nupkg' | ForEach-Object { Write-Host "Package: $($_.FullName)" }
}

foreach ($t in $Task) { & "Invoke-$t" }
