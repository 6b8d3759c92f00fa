#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The examples under real pwsh. The main job runs in a fresh pwsh that knows nothing of ONNX Runtime: the module
# must find its own native library (runtimes/<rid>/native), and its output must be what the README shows.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')

    # The README's sample output of the main job: the fenced block after "What the main job prints".
    function Get-ReadmeSample {
        $lines = Get-Content (Join-Path $RepoRoot 'README.md')
        $start = ($lines | Select-String -SimpleMatch 'What the main job prints' | Select-Object -First 1).LineNumber
        $open = $start + [array]::IndexOf($lines[$start..($lines.Count - 1)], '```')
        $close = $open + 1 + [array]::IndexOf($lines[($open + 1)..($lines.Count - 1)], '```')
        @($lines[($open + 1)..($close - 1)])
    }

    # A line's shape: every number may differ (CPU-dependent figures), and so may paths and node names (any
    # word with a slash); the other words and the order stay.
    function ConvertTo-Shape([string]$Line) {
        # The machine line names the CPU and its instruction sets: any text.
        if ($Line -like 'Machine *') { return '^Machine\s+:\s+\S.*$' }
        # The types line names what the target chose (uint8 activations on x86, int8 on Arm64).
        if ($Line -like 'Types *') { return '^Types\s+:\s+activations U?Int8, weights Int8.*$' }
        $parts = foreach ($token in $Line -split '(\s+)') {
            if ($token -match '^\s+$') { '\s+' }
            elseif ($token -like '*/*') { '\S+' }
            else { [regex]::Escape($token) -replace '-?\d[\d,]*(\\\.\d+)?', '-?\d[\d,]*(\.\d+)?' }
        }
        '^' + ($parts -join '') + '$'
    }
}

Describe 'examples/quantize-fashion.ps1, the main job' {
    BeforeAll {
        # -OutDir under TestDrive, so that the test writes nothing into out/examples.
        $script:Run = Invoke-Pwsh -File (Join-Path $RepoRoot 'examples/quantize-fashion.ps1') -ArgumentList '-OutDir', (Join-Path $TestDrive 'out/examples')
        $script:Sample = Get-ReadmeSample
    }

    It 'runs in a fresh pwsh that imports out/EvoQuant and knows nothing of ONNX Runtime' {
        $Run.ExitCode | Should -Be 0 -Because $Run.Error
        $Run.Error | Should -BeNullOrEmpty
    }

    It 'keeps progress out of redirected output' {
        # The cmdlets call Write-Progress; pwsh draws it only on an interactive console.
        $Run.Output -match 'samples/s|Comparing:|Planning|Rewriting' | Should -BeNullOrEmpty
    }

    It 'prints the lines of the README, in order, with the same shape' {
        $Sample.Count | Should -BeGreaterThan 5
        $Run.Output.Count | Should -Be $Sample.Count -Because ($Run.Output -join "`n")
        for ($i = 0; $i -lt $Sample.Count; $i++) {
            $Run.Output[$i] | Should -Match (ConvertTo-Shape $Sample[$i]) -Because "README line $($i + 1): $($Sample[$i])"
        }
    }

    It 'prints the README''s figures that do not depend on the CPU: <Prefix>' -TestCases @(
        @{ Prefix = 'Model' }, @{ Prefix = 'Calibration' }, @{ Prefix = 'Nodes' }, @{ Prefix = 'Size' }
    ) {
        $expected = $Sample | Where-Object { $_ -like "$Prefix *" }
        $expected | Should -Not -BeNullOrEmpty
        $Run.Output | Where-Object { $_ -like "$Prefix *" } | Should -Be $expected
    }

    It 'prints the float accuracy of the README (the int8 figures vary by CPU)' {
        $float = { param($lines) ($lines | Where-Object { $_ -like 'Accuracy *' }) -replace '^Accuracy\s+:\s+float (\S+%).*$', '$1' }
        & $float $Run.Output | Should -Be (& $float $Sample)
        & $float $Sample | Should -Be '91.25%'
    }
}

Describe 'the other examples' {
    It 'calibrate-shards.ps1 merges shard tables into the table of the whole' {
        $text = & (Join-Path $RepoRoot 'examples/calibrate-shards.ps1') -OutDir (Join-Path $TestDrive 'shards') | Out-String
        $text | Should -Match 'Largest range difference, continued vs whole: 0'
    }

    It 'calibrate-shards.ps1 merges MinMax shards measured in parallel into exactly the table of one run' {
        $text = & (Join-Path $RepoRoot 'examples/calibrate-shards.ps1') -Method MinMax -OutDir (Join-Path $TestDrive 'shards-minmax') | Out-String
        $text | Should -Match 'Shards      : 8 samples \+ 200 samples'
        $text | Should -Match 'largest range difference: 0\r?\n'
    }

    It 'accuracy-driven.ps1 reaches its target' {
        $text = & (Join-Path $RepoRoot 'examples/accuracy-driven.ps1') -OutDir (Join-Path $TestDrive 'accuracy') | Out-String
        $text | Should -Match 'Automatic search    : target met: True'
    }

    It 'quantize-minilm.ps1 goes from sentences to tokens, calibration, dynamic and static int8 and embedding figures' -Tag 'Full' {
        $lines = & (Join-Path $RepoRoot 'examples/quantize-minilm.ps1') -CalibrationCount 16 -EvaluationCount 30 -OutDir (Join-Path $TestDrive 'minilm')
        @($lines -match '^Sentences   : 16 for calibration, 30 for evaluation \(disjoint, of \d+\)$') | Should -HaveCount 1
        @($lines -match '^Calibration : MinMax calibration of \d+ tensors over 16 samples$') | Should -HaveCount 1
        foreach ($name in 'Dynamic', 'Static') {
            $line = @($lines -match "^$name\s+: ")
            $line | Should -HaveCount 1
            $line[0] | Should -Match 'MB -> \d+[.,]\d MB; cosine mean -?\d[.,]\d{4} min -?\d[.,]\d{4}; Spearman -?\d[.,]\d{4} \(6 x 24\); top-1 neighbours \d+[.,]\d%; speed (\d+[.,]\d\dx float|not measured)$'
        }
    }
}
