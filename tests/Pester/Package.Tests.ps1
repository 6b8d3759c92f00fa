#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The package as a user gets it: `./build.ps1 -Task Package` writes out/EvoQuant.<version>.nupkg (Publish-PSResource),
# Install-PSResource installs it from a local repository, and a fresh pwsh imports it by name. The install and the
# import run in child pwsh processes whose HOME (and XDG_DATA_HOME) is a temporary folder: the repository registration
# and the CurrentUser scope (~/.local/share/powershell/Modules) live there, never in the user's own settings or modules.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Data = Join-Path $TestDrive 'home'
    $script:Repo = Join-Path $TestDrive 'repo'
    $null = New-Item -ItemType Directory -Path $Data, $Repo
    $script:Isolated = @{ HOME = $Data; XDG_DATA_HOME = (Join-Path $Data '.local/share'); XDG_CONFIG_HOME = (Join-Path $Data '.config'); XDG_CACHE_HOME = (Join-Path $Data '.cache') }
    # .NET resolves a special folder (PSResourceGet keeps its repositories under LocalApplicationData) only if it exists.
    foreach ($dir in $Isolated.Values) { $null = New-Item -ItemType Directory -Force -Path $dir }
    $script:Version = (Import-PowerShellDataFile (Join-Path $RepoRoot 'EvoQuant.psd1')).ModuleVersion
}

Describe 'EvoQuant package' -Tag 'Full' {
    It 'is built by ./build.ps1 -Task Package' {
        # The build runs as the user (dotnet needs its NuGet cache); the task registers no repository.
        $run = Invoke-Pwsh -File (Join-Path $RepoRoot 'build.ps1') -ArgumentList '-Task', 'Package'
        $run.ExitCode | Should -Be 0 -Because ((($run.Output | Select-Object -Last 20) -join "`n") + $run.Error)
        $nupkg = Join-Path $RepoRoot "out/EvoQuant.$Version.nupkg"
        Test-Path $nupkg | Should -BeTrue
        Copy-Item $nupkg $Repo
    }

    It 'installs with Install-PSResource from a local repository' {
        $script:Install = Invoke-Pwsh -Environment $Isolated -WorkingDirectory $TestDrive -Command @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name EvoQuantTest -Uri '$Repo' -Trusted
Install-PSResource -Name EvoQuant -Version '$Version' -Repository EvoQuantTest -Scope CurrentUser -TrustRepository -Quiet
(Get-InstalledPSResource -Name EvoQuant -Scope CurrentUser).InstalledLocation
"@
        $Install.ExitCode | Should -Be 0 -Because $Install.Error
        $script:Installed = $Install.Output | Select-Object -Last 1
        $Installed | Should -BeLike "$Data*"
        Test-Path (Join-Path $Data '.local/share/PSResourceGet/PSResourceRepository.xml') | Should -BeTrue -Because 'the repository is registered in the temporary HOME' 
        Test-Path (Join-Path $Installed "EvoQuant/$Version/EvoQuant.psd1") | Should -BeTrue
    }

    It 'imports by name in a fresh pwsh and reads the fashion CNN' {
        $run = Invoke-Pwsh -Environment ($Isolated + @{ PSModulePath = $Installed }) -WorkingDirectory $TestDrive -Command @"
`$ErrorActionPreference = 'Stop'
Import-Module EvoQuant
`$m = Get-Module EvoQuant
'BASE=' + `$m.ModuleBase
'VERSION=' + `$m.Version
'NODES=' + (Get-OnnxGraph -Path '$FashionModel').NodeCount
"@
        $run.ExitCode | Should -Be 0 -Because $run.Error
        $run.Output | Should -Contain "VERSION=$Version"
        $run.Output | Should -Contain 'NODES=55'
        ($run.Output | Where-Object { $_ -like 'BASE=*' }) | Should -BeLike "BASE=$Installed*"
    }
}
