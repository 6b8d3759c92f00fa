# PesterShim.ps1: a minimal stand-in for the part of Pester 5 that tests/Pester/*.Tests.ps1 use, so that the
# suites can run in the hosted PowerShell engine of the xunit tests (System.Management.Automation from NuGet,
# which has neither pwsh's Utility/Management modules nor Pester). Run by PesterSuiteTests.cs.
#
# SCOPE, honestly: this checks the suites' logic and expectations against the REAL built module; it does not
# check Pester itself. What it models after Pester 5 (src/functions of pester/Pester, read, not copied):
#   - discovery then run: the file runs once to collect BeforeAll/AfterAll/BeforeEach/AfterEach, Describe,
#     Context and It; code in a Describe body runs at discovery only, so its variables are not seen by Its;
#   - scoping: a block's BeforeAll runs once in the block's scope (top-level BeforeAll once for the file);
#     Its run in a child scope with BeforeEach/AfterEach; what BeforeAll sets ($x = or $script:x =) is seen by
#     the Its of the block and of nested blocks; It -TestCases sets each key as a variable, <key> in the name;
#   - Should (ErrorAction Stop, as Pester's default): -Be, -BeExactly, -BeNullOrEmpty, -HaveCount and -Contain
#     take the whole pipeline input as an array, the other operators test each piped item, no input tests
#     $null; -Be compares `$expected -eq $actual` element by element; -Throw runs the script block and
#     matches -ErrorId (FullyQualifiedErrorId) and the message with -like, -ExceptionType with -is;
#   - $TestDrive and TestDrive:: one folder per file, created before the top-level BeforeAll; what a
#     Describe/Context adds to it is removed when the block ends (what existed before is kept).
# Not modelled: tags, -Skip/-Pending beyond marking, Mock, InModuleScope, BeforeDiscovery, -ForEach on blocks,
# parallel runs, Pester's configuration and output. A non-terminating error in an It does not fail it (as in
# Pester 5).
#
# The pwsh cmdlets the engine lacks (Microsoft.PowerShell.Management/Utility) are defined below as functions
# only when missing, over the engine's own provider API ($ExecutionContext.InvokeProvider /
# SessionState.Path), so items carry PSPath etc. as the FileSystem provider gives them, and relative paths
# resolve against the PowerShell location. Each covers only the parameters the suites use. Format-Table,
# Format-List and Out-String are C# cmdlets over the engine's own formatter, added by PesterSuiteTests.cs.

Set-StrictMode -Off

$global:___PesterShim = @{
    Root    = $null
    Current = $null
    Results = [System.Collections.Generic.List[object]]::new()
}

function ___New-ShimBlock([string] $Name, $Parent) {
    [pscustomobject]@{
        Name       = $Name
        Parent     = $Parent
        Path       = if ($null -ne $Parent -and $null -ne $Parent.Parent) { @($Parent.Path) + $Name } elseif ($null -ne $Parent) { @($Name) } else { @() }
        Items      = [System.Collections.Generic.List[object]]::new()
        BeforeAll  = [System.Collections.Generic.List[scriptblock]]::new()
        AfterAll   = [System.Collections.Generic.List[scriptblock]]::new()
        BeforeEach = [System.Collections.Generic.List[scriptblock]]::new()
        AfterEach  = [System.Collections.Generic.List[scriptblock]]::new()
    }
}

function ___Get-ShimCurrent {
    if ($null -eq $global:___PesterShim.Current) { throw 'PesterShim: a Pester block was used outside of Invoke-PesterShim.' }
    $global:___PesterShim.Current
}

function BeforeAll { param([Parameter(Mandatory, Position = 0)][scriptblock] $Scriptblock) (___Get-ShimCurrent).BeforeAll.Add($Scriptblock) }
function AfterAll { param([Parameter(Mandatory, Position = 0)][scriptblock] $Scriptblock) (___Get-ShimCurrent).AfterAll.Add($Scriptblock) }
function BeforeEach { param([Parameter(Mandatory, Position = 0)][scriptblock] $Scriptblock) (___Get-ShimCurrent).BeforeEach.Add($Scriptblock) }
function AfterEach { param([Parameter(Mandatory, Position = 0)][scriptblock] $Scriptblock) (___Get-ShimCurrent).AfterEach.Add($Scriptblock) }

function Describe {
    param(
        [Parameter(Mandatory, Position = 0)][string] $Name,
        [Parameter(Position = 1)][scriptblock] $Fixture,
        [string[]] $Tag,
        [switch] $Skip
    )
    $___parent = ___Get-ShimCurrent
    $___block = ___New-ShimBlock $Name $___parent
    $___parent.Items.Add([pscustomobject]@{ Kind = 'Block'; Block = $___block; Skip = [bool]$Skip })
    $global:___PesterShim.Current = $___block
    try { $null = . $Fixture }
    finally { $global:___PesterShim.Current = $___parent }
}

function Context {
    param(
        [Parameter(Mandatory, Position = 0)][string] $Name,
        [Parameter(Position = 1)][scriptblock] $Fixture,
        [string[]] $Tag,
        [switch] $Skip
    )
    Describe -Name $Name -Fixture $Fixture -Tag $Tag -Skip:$Skip
}

function It {
    param(
        [Parameter(Mandatory, Position = 0)][string] $Name,
        [Parameter(Position = 1)][scriptblock] $Test,
        [Alias('ForEach')][object[]] $TestCases,
        [string[]] $Tag,
        [switch] $Skip,
        [switch] $Pending
    )
    $___block = ___Get-ShimCurrent
    $___cases = @(if ($PSBoundParameters.ContainsKey('TestCases')) { $TestCases } else { $null })
    foreach ($___case in $___cases) {
        $___name = $Name
        if ($___case -is [System.Collections.IDictionary]) {
            foreach ($___k in $___case.Keys) { $___name = $___name.Replace("<$___k>", [string]$___case[$___k]) }
        }
        $___block.Items.Add([pscustomobject]@{
                Kind = 'It'; Name = $___name; Body = $Test; Data = $___case; Skip = [bool]($Skip -or $Pending)
            })
    }
}

class PesterShimSkipException : System.Exception {
    PesterShimSkipException([string] $message) : base($message) {}
}

function Set-ItResult {
    param([switch] $Inconclusive, [switch] $Pending, [switch] $Skipped, [string] $Because)
    throw [PesterShimSkipException]::new("Set-ItResult: $Because")
}

# ---------------------------------------------------------------------------------------------- run

function ___New-ShimTestDrive {
    $path = [System.IO.Directory]::CreateDirectory([System.IO.Path]::Combine([System.IO.Path]::GetTempPath(), 'PesterShim', [guid]::NewGuid().ToString())).FullName
    $fs = $ExecutionContext.SessionState.Provider.GetOne('FileSystem')
    if (@($ExecutionContext.SessionState.Drive.GetAll() | Where-Object Name -eq 'TestDrive').Count -gt 0) { $ExecutionContext.SessionState.Drive.Remove('TestDrive', $true, 'Global') }
    $null = $ExecutionContext.SessionState.Drive.New([System.Management.Automation.PSDriveInfo]::new('TestDrive', $fs, $path, 'Pester test drive', $null), 'Global')
    $global:TestDrive = $path
    $path
}

function ___Get-ShimTestDriveEntries([string] $Path) {
    if ([System.IO.Directory]::Exists($Path)) { [System.IO.Directory]::GetFileSystemEntries($Path, '*', [System.IO.SearchOption]::AllDirectories) }
}

function ___Clear-ShimTestDrive([string] $Path, [string[]] $Keep) {
    foreach ($e in @(___Get-ShimTestDriveEntries $Path)) {
        if ($Keep -contains $e) { continue }
        try {
            if ([System.IO.Directory]::Exists($e)) { [System.IO.Directory]::Delete($e, $true) }
            elseif ([System.IO.File]::Exists($e)) { [System.IO.File]::Delete($e) }
        }
        catch { }
    }
}

function ___Add-ShimResult($Path, [string] $Result, $ErrorRecord) {
    $message = if ($null -ne $ErrorRecord) {
        $pos = if ($null -ne $ErrorRecord.InvocationInfo) { $ErrorRecord.InvocationInfo.PositionMessage } else { '' }
        $fqid = $ErrorRecord.FullyQualifiedErrorId
        "$($ErrorRecord.Exception.Message) [$fqid]`n$pos"
    }
    $global:___PesterShim.Results.Add([pscustomobject]@{
            Path           = (@($Path) -join ' > ')
            Result         = $Result
            Message        = $message
        })
}

function ___Get-ShimTests($___b) {
    foreach ($___i in $___b.Items) {
        if ($___i.Kind -eq 'It') { , (@($___b.Path) + $___i.Name) } else { ___Get-ShimTests $___i.Block }
    }
}

# Runs a block in its own scope: its BeforeAll are dot-sourced here, its children are called from here.
function ___Invoke-ShimBlock($___b, [object[]] $___each, [object[]] $___afterEach, [bool] $___isRoot) {
    $___drive = $global:TestDrive
    $___keep = if ($___isRoot) { $___drive = ___New-ShimTestDrive; @() } else { @(___Get-ShimTestDriveEntries $___drive) }
    $___setupError = $null
    try {
        foreach ($___sb in $___b.BeforeAll) { $null = . $___sb }
    }
    catch { $___setupError = $_ }

    $___eachHere = @($___each) + @($___b.BeforeEach)
    $___afterHere = @($___b.AfterEach) + @($___afterEach)
    foreach ($___item in $___b.Items) {
        if ($null -ne $___setupError) {
            foreach ($___t in @(if ($___item.Kind -eq 'It') { , (@($___b.Path) + $___item.Name) } else { ___Get-ShimTests $___item.Block })) {
                ___Add-ShimResult $___t 'Failed' $___setupError
            }
            continue
        }
        if ($___item.Kind -eq 'Block') {
            if ($___item.Skip) { foreach ($___t in @(___Get-ShimTests $___item.Block)) { ___Add-ShimResult $___t 'Skipped' } }
            else { ___Invoke-ShimBlock $___item.Block $___eachHere $___afterHere $false }
        }
        else {
            ___Invoke-ShimIt $___item (@($___b.Path) + $___item.Name) $___eachHere $___afterHere
        }
    }

    try {
        foreach ($___sb in $___b.AfterAll) { $null = . $___sb }
    }
    catch { ___Add-ShimResult (@($___b.Path) + 'AfterAll') 'Failed' $_ }

    if ($___isRoot) {
        try { $ExecutionContext.SessionState.Drive.Remove('TestDrive', $true, 'Global') } catch { }
        try { [System.IO.Directory]::Delete($___drive, $true) } catch { }
    }
    else { ___Clear-ShimTestDrive $___drive $___keep }
}

# Runs one It in its own scope (a child of its block's), with the BeforeEach/AfterEach of the blocks around it.
function ___Invoke-ShimIt($___t, $___path, [object[]] $___each, [object[]] $___afterEach) {
    if ($___t.Skip) { ___Add-ShimResult $___path 'Skipped'; return }
    if ($___t.Data -is [System.Collections.IDictionary]) {
        foreach ($___k in $___t.Data.Keys) { $ExecutionContext.SessionState.PSVariable.Set([string]$___k, $___t.Data[$___k]) }
    }
    $___result = 'Passed'
    $___err = $null
    try {
        foreach ($___sb in $___each) { $null = . $___sb }
        $null = . $___t.Body
    }
    catch {
        $___err = $_
        $___result = if ($_.Exception -is [PesterShimSkipException]) { 'Skipped' } else { 'Failed' }
    }
    finally {
        try { foreach ($___sb in $___afterEach) { $null = . $___sb } }
        catch { if ($null -eq $___err) { $___err = $_; $___result = 'Failed' } }
    }
    ___Add-ShimResult $___path $___result $(if ($___result -eq 'Failed') { $___err })
}

# Runs one .Tests.ps1 file: discovery (the file runs once), then the run. Outputs one result per It.
function Invoke-PesterShim {
    param([Parameter(Mandatory, Position = 0)][string] $___File)
    $global:___PesterShim.Results.Clear()
    $___root = ___New-ShimBlock ([System.IO.Path]::GetFileName($___File)) $null
    $global:___PesterShim.Root = $___root
    $global:___PesterShim.Current = $___root
    try {
        $null = . $___File
    }
    catch {
        ___Add-ShimResult @('Discovery') 'Failed' $_
        return $global:___PesterShim.Results.ToArray()
    }
    finally { $global:___PesterShim.Current = $null }
    ___Invoke-ShimBlock $___root @() @() $true
    $global:___PesterShim.Results.ToArray()
}

# ---------------------------------------------------------------------------------------------- Should

function ___Format-Nicely($Value) {
    if ($null -eq $Value) { return '$null' }
    if ($Value -is [string]) { return "'$Value'" }
    if ($Value -is [bool]) { return "`$$Value" }
    if ($Value -is [type]) { return "[$($Value.FullName)]" }
    if ($Value -is [System.Collections.IEnumerable] -and $Value -isnot [System.Collections.IDictionary]) {
        $items = @($Value)
        $shown = @(if ($items.Count -gt 0) { $items[0..([Math]::Min(10, $items.Count) - 1)] | ForEach-Object { ___Format-Nicely $_ } })
        return "@($($shown -join ', ')$(if ($items.Count -gt 10) { ', ...' }))"
    }
    [string]$Value
}

function ___Format-Because([string] $Because) { if (-not [string]::IsNullOrWhiteSpace($Because)) { " because $($Because.Trim())," } else { '' } }

function ___Test-ShimNullOrEmptyArray([object[]] $a) { $null -eq $a -or $a.Count -eq 0 -or ($a.Count -eq 1 -and $null -eq $a[0]) }

function ___Test-ShimArraysEqual([object[]] $Expected, [object[]] $Actual, [bool] $CaseSensitive, [int] $Depth = 0) {
    if ($Depth -gt 100) { throw 'PesterShim: recursion limit comparing arrays.' }
    $en = ___Test-ShimNullOrEmptyArray @($Expected)
    $an = ___Test-ShimNullOrEmptyArray @($Actual)
    if ($en -or $an) { return $en -and $an }
    if ($Expected.Count -ne $Actual.Count) { return $false }
    for ($i = 0; $i -lt $Expected.Count; $i++) {
        if ($Expected[$i] -is [array] -or $Actual[$i] -is [array]) {
            if (-not (___Test-ShimArraysEqual $Expected[$i] $Actual[$i] $CaseSensitive ($Depth + 1))) { return $false }
        }
        elseif ($CaseSensitive) { if (-not ($Expected[$i] -ceq $Actual[$i])) { return $false } }
        else { if (-not ($Expected[$i] -eq $Actual[$i])) { return $false } }
    }
    $true
}

# -Throw: runs the script block from here, so only these ___ names (and Should's parameters) are in the scopes
# between the block and the It (Pester runs it from its module, where none are).
function ___Test-ShimThrow($___sb, [bool] $___negate, [string] $___because, [hashtable] $___extra) {
    if ($___sb -isnot [scriptblock]) { throw [ArgumentException]"Input is missing or not a ScriptBlock. Input to '-Throw' and '-Not -Throw' must be enclosed in curly braces." }
    $___thrown = $false; $___err = $null
    try { $null = & $___sb } catch { $___thrown = $true; $___err = $_ }
    $b = ___Format-Because $___because
    if ($___negate) {
        if (-not $___thrown) { return $null }
        return "Expected no exception to be thrown,$b but an exception `"$($___err.Exception.Message)`" was thrown [$($___err.FullyQualifiedErrorId)]."
    }
    $buts = @(); $filters = @()
    if ($null -ne $___extra.ExceptionType) {
        $filters += "type $(___Format-Nicely $___extra.ExceptionType)"
        if ($___thrown -and $___err.Exception -isnot $___extra.ExceptionType) { $buts += "the exception type was $(___Format-Nicely $___err.Exception.GetType())" }
    }
    if (-not [string]::IsNullOrWhiteSpace($___extra.ExpectedMessage)) {
        $filters += "message like $(___Format-Nicely $___extra.ExpectedMessage)"
        if ($___thrown -and -not ($___err.Exception.Message -like $___extra.ExpectedMessage)) { $buts += "the message was $(___Format-Nicely $___err.Exception.Message)" }
    }
    if (-not [string]::IsNullOrWhiteSpace($___extra.ErrorId)) {
        $filters += "FullyQualifiedErrorId $(___Format-Nicely $___extra.ErrorId)"
        if ($___thrown -and -not ($___err.FullyQualifiedErrorId -like $___extra.ErrorId)) { $buts += "the FullyQualifiedErrorId was $(___Format-Nicely $___err.FullyQualifiedErrorId)" }
    }
    if (-not $___thrown) { $buts += 'no exception was thrown' }
    if ($buts.Count -eq 0) { return $null }
    $msg = "Expected an exception$(if ($filters) { ' with ' + ($filters -join ' and ') }) to be thrown,$b but $($buts -join ' and ')."
    if ($___thrown) { $msg += " The error: $($___err.Exception.Message)" }
    $msg
}

# One assertion on one value: returns $null when it holds, else the failure message (before -Not is applied
# the caller passes $Negate).
function ___Test-ShimAssertion([string] $Op, $Actual, $Expected, [bool] $Negate, [string] $Because, [hashtable] $Extra) {
    if ($Op -eq 'Throw') { return ___Test-ShimThrow $Actual $Negate $Because $Extra }
    $b = ___Format-Because $Because
    $not = if ($Negate) { 'not ' } else { '' }
    $one = if ($Actual -is [array] -and $Actual.Count -eq 1) { $Actual[0] } else { $Actual }
    switch ($Op) {
        'Be' { $ok = ___Test-ShimArraysEqual @($Expected) @($Actual) $false; $msg = "Expected $not$(___Format-Nicely $Expected),$b but got $(___Format-Nicely $one)." }
        'BeExactly' { $ok = ___Test-ShimArraysEqual @($Expected) @($Actual) $true; $msg = "Expected exactly $not$(___Format-Nicely $Expected),$b but got $(___Format-Nicely $one)." }
        'BeNullOrEmpty' {
            $arr = [object[]]@($Actual)
            if ($null -eq $Actual -or $arr.Count -eq 0) { $ok = $true }
            elseif ($arr.Count -eq 1) { $ok = if ($arr[0] -is [hashtable]) { $arr[0].Count -eq 0 } else { [string]::IsNullOrEmpty($arr[0]) } }
            else { $ok = $false }
            $msg = if ($Negate) { "Expected a value,$b but got `$null or empty." } else { "Expected `$null or empty,$b but got $(___Format-Nicely $Actual)." }
        }
        'HaveCount' {
            $count = if ($null -eq $Actual) { 0 } else { $Actual.Count }
            $ok = $count -eq [int]$Expected
            $msg = "Expected a collection with size $not$(___Format-Nicely $Expected),$b but got collection with size $count $(___Format-Nicely $Actual)."
        }
        'Contain' { $ok = $Actual -contains $Expected; $msg = "Expected $(___Format-Nicely $Expected) $(if ($Negate) { 'to not be' } else { 'to be' }) found in collection $(___Format-Nicely $Actual),$b but it was$(if (-not $Negate) { ' not' }) found." }
        'BeIn' { $ok = $Expected -contains $Actual; $msg = "Expected collection $(___Format-Nicely $Expected) to $($not)contain $(___Format-Nicely $Actual),$b but it was$(if (-not $Negate) { ' not' }) found." }
        'BeOfType' {
            $type = $Expected
            if ($type -is [string]) { $type = ($type -replace '^\[(.*)\]$', '$1') -as [type]; if ($null -eq $type) { throw [ArgumentException]"Could not find type [$Expected]." } }
            $ok = $Actual -is $type
            $msg = "Expected the value to $($not)have type $(___Format-Nicely $type) or any of its subtypes,$b but got $(___Format-Nicely $Actual) with type $(if ($null -ne $Actual) { ___Format-Nicely $Actual.GetType() } else { '$null' })."
        }
        'BeTrue' { $ok = [bool]$Actual; $msg = "Expected `$true,$b but got $(___Format-Nicely $Actual)." }
        'BeFalse' { $ok = -not $Actual; $msg = "Expected `$false,$b but got $(___Format-Nicely $Actual)." }
        'BeGreaterThan' { $ok = [bool]($Actual -gt $Expected); $msg = "Expected the actual value to be $($not)greater than $(___Format-Nicely $Expected),$b but got $(___Format-Nicely $Actual)." }
        'BeGreaterOrEqual' { $ok = [bool]($Actual -ge $Expected); $msg = "Expected the actual value to be $($not)greater than or equal to $(___Format-Nicely $Expected),$b but got $(___Format-Nicely $Actual)." }
        'BeLessThan' { $ok = [bool]($Actual -lt $Expected); $msg = "Expected the actual value to be $($not)less than $(___Format-Nicely $Expected),$b but got $(___Format-Nicely $Actual)." }
        'BeLessOrEqual' { $ok = [bool]($Actual -le $Expected); $msg = "Expected the actual value to be $($not)less than or equal to $(___Format-Nicely $Expected),$b but got $(___Format-Nicely $Actual)." }
        'Match' { $ok = [bool]($Actual -match $Expected); $msg = "Expected regular expression $(___Format-Nicely $Expected) to $(if ($Negate) { 'not ' })match $(___Format-Nicely $Actual),$b but it did$(if (-not $Negate) { ' not' }) match." }
        'BeLike' { $ok = [bool]($Actual -like $Expected); $msg = "Expected like wildcard $(___Format-Nicely $Expected) to $(if ($Negate) { 'not ' })match $(___Format-Nicely $Actual),$b but it did$(if (-not $Negate) { ' not' }) match." }
        'Exist' { $ok = [bool](Test-Path $Actual); $msg = "Expected path $(___Format-Nicely $Actual) to $(if ($Negate) { 'not ' })exist,$b but it did$(if (-not $Negate) { ' not' }) exist." }
        default { throw "PesterShim: Should -$Op is not supported by the shim." }
    }
    if ($Negate) { $ok = -not $ok }
    if ($ok) { $null } else { $msg }
}

function Should {
    [CmdletBinding()]
    param(
        [Parameter(ValueFromPipeline)][AllowNull()][AllowEmptyCollection()][AllowEmptyString()][object] $ActualValue,
        [Parameter(Position = 0)][AllowNull()][object] $ExpectedValue,
        [switch] $Not,
        [switch] $Be, [switch] $BeExactly, [switch] $BeNullOrEmpty, [switch] $HaveCount, [switch] $Contain, [switch] $BeIn,
        [switch] $BeOfType, [switch] $BeTrue, [switch] $BeFalse,
        [switch] $BeGreaterThan, [switch] $BeGreaterOrEqual, [switch] $BeLessThan, [switch] $BeLessOrEqual,
        [switch] $Match, [switch] $BeLike, [switch] $Exist, [switch] $Throw,
        [string] $Because, [string] $ErrorId, [type] $ExceptionType, [string] $ExpectedMessage
    )
    begin { $___input = [System.Collections.Generic.List[object]]::new(); $___piped = $false }
    process { if ($MyInvocation.ExpectingInput) { $___piped = $true; $___input.Add($ActualValue) } }
    end {
        $ops = @('Be', 'BeExactly', 'BeNullOrEmpty', 'HaveCount', 'Contain', 'BeIn', 'BeOfType', 'BeTrue', 'BeFalse', 'BeGreaterThan',
            'BeGreaterOrEqual', 'BeLessThan', 'BeLessOrEqual', 'Match', 'BeLike', 'Exist', 'Throw') | Where-Object { $PSBoundParameters.ContainsKey($_) }
        if (@($ops).Count -ne 1) { throw "PesterShim: Should needs exactly one operator, got: $($ops -join ', ')" }
        $op = @($ops)[0]
        if (-not $___piped -and $PSBoundParameters.ContainsKey('ActualValue')) { $___input.Add($ActualValue) }
        $extra = @{ ErrorId = $ErrorId; ExceptionType = $ExceptionType; ExpectedMessage = $ExpectedMessage }
        if ($op -eq 'Throw' -and $PSBoundParameters.ContainsKey('ExpectedValue')) { $extra.ExpectedMessage = [string]$ExpectedValue }
        $arrayInput = $op -in @('Be', 'BeExactly', 'BeNullOrEmpty', 'HaveCount', 'Contain')
        $values = if ($___input.Count -eq 0) { , @($null) } elseif ($arrayInput) { , @(, $___input.ToArray()) } else { , $___input.ToArray() }
        foreach ($v in $values) {
            $failure = ___Test-ShimAssertion $op $v $ExpectedValue ([bool]$Not) $Because $extra
            if ($null -ne $failure) {
                $line = $MyInvocation.Line.Trim()
                $record = [System.Management.Automation.ErrorRecord]::new([Exception]::new("$failure`n    at $line, $($MyInvocation.ScriptName):$($MyInvocation.ScriptLineNumber)"),
                    'PesterAssertionFailed', [System.Management.Automation.ErrorCategory]::InvalidResult, $null)
                $PSCmdlet.ThrowTerminatingError($record)
            }
        }
    }
}

# ------------------------------------------------------------------- pwsh cmdlets the engine lacks

function ___Test-ShimCommandMissing([string] $Name) { $null -eq (Get-Command -Name $Name -CommandType Cmdlet, Function -ErrorAction Ignore) }

function ___Resolve-ShimProviderPath([string] $Path, [switch] $Literal) {
    $provider = $null
    if ($Literal) {
        $p = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
        if (-not ([System.IO.File]::Exists($p) -or [System.IO.Directory]::Exists($p))) { throw [System.Management.Automation.ItemNotFoundException]::new("Cannot find path '$Path' because it does not exist.") }
        return $p
    }
    $ExecutionContext.SessionState.Path.GetResolvedProviderPathFromPSPath($Path, [ref]$provider)
}

if (___Test-ShimCommandMissing 'Join-Path') {
    function global:Join-Path {
        [CmdletBinding()]
        param(
            [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)][Alias('PSPath')][string[]] $Path,
            [Parameter(Position = 1)][AllowNull()][AllowEmptyString()][string] $ChildPath,
            [Parameter(Position = 2, ValueFromRemainingArguments)][AllowNull()][AllowEmptyString()][string[]] $AdditionalChildPath,
            [switch] $Resolve
        )
        process {
            foreach ($p in $Path) {
                $r = $ExecutionContext.SessionState.Path.Combine($p, $ChildPath)
                foreach ($c in $AdditionalChildPath) { $r = $ExecutionContext.SessionState.Path.Combine($r, $c) }
                if ($Resolve) { $ExecutionContext.SessionState.Path.GetResolvedPSPathFromPSPath($r) | ForEach-Object Path } else { $r }
            }
        }
    }
}

if (___Test-ShimCommandMissing 'Resolve-Path') {
    function global:Resolve-Path {
        [CmdletBinding(DefaultParameterSetName = 'Path')]
        param(
            [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName, ParameterSetName = 'Path')][string[]] $Path,
            [Parameter(Mandatory, ValueFromPipelineByPropertyName, ParameterSetName = 'LiteralPath')][Alias('PSPath', 'LP')][string[]] $LiteralPath
        )
        process {
            $paths = if ($PSCmdlet.ParameterSetName -eq 'Path') { $Path } else { $LiteralPath | ForEach-Object { [System.Management.Automation.WildcardPattern]::Escape($_) } }
            foreach ($p in $paths) {
                try { $ExecutionContext.SessionState.Path.GetResolvedPSPathFromPSPath($p) }
                catch { $PSCmdlet.WriteError([System.Management.Automation.ErrorRecord]::new($_.Exception, 'PathNotFound,Microsoft.PowerShell.Commands.ResolvePathCommand', 'ObjectNotFound', $p)) }
            }
        }
    }
}

if (___Test-ShimCommandMissing 'Test-Path') {
    function global:Test-Path {
        [CmdletBinding(DefaultParameterSetName = 'Path')]
        param(
            [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName, ParameterSetName = 'Path')][string[]] $Path,
            [Parameter(Mandatory, ValueFromPipelineByPropertyName, ParameterSetName = 'LiteralPath')][Alias('PSPath', 'LP')][string[]] $LiteralPath,
            [ValidateSet('Any', 'Container', 'Leaf')][string] $PathType = 'Any'
        )
        process {
            $paths = if ($PSCmdlet.ParameterSetName -eq 'Path') { $Path } else { $LiteralPath | ForEach-Object { [System.Management.Automation.WildcardPattern]::Escape($_) } }
            foreach ($p in $paths) {
                $found = @(try { ___Resolve-ShimProviderPath $p } catch { })
                $match = @(foreach ($f in $found) {
                        $isFile = [System.IO.File]::Exists($f); $isDir = [System.IO.Directory]::Exists($f)
                        if (($PathType -eq 'Leaf' -and $isFile) -or ($PathType -eq 'Container' -and $isDir) -or ($PathType -eq 'Any' -and ($isFile -or $isDir))) { $f }
                    })
                $match.Count -gt 0
            }
        }
    }
}

if (___Test-ShimCommandMissing 'Get-Item') {
    function global:Get-Item {
        [CmdletBinding(DefaultParameterSetName = 'Path')]
        param(
            [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName, ParameterSetName = 'Path')][string[]] $Path,
            [Parameter(Mandatory, ValueFromPipelineByPropertyName, ParameterSetName = 'LiteralPath')][Alias('PSPath', 'LP')][string[]] $LiteralPath,
            [switch] $Force
        )
        process {
            $paths = if ($PSCmdlet.ParameterSetName -eq 'Path') { $Path } else { $LiteralPath | ForEach-Object { [System.Management.Automation.WildcardPattern]::Escape($_) } }
            foreach ($p in $paths) {
                try { $ExecutionContext.InvokeProvider.Item.Get($p) }
                catch { $PSCmdlet.WriteError([System.Management.Automation.ErrorRecord]::new($_.Exception, 'PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand', 'ObjectNotFound', $p)) }
            }
        }
    }
}

if (___Test-ShimCommandMissing 'Get-ChildItem') {
    function global:Get-ChildItem {
        [CmdletBinding(DefaultParameterSetName = 'Items')]
        param(
            [Parameter(Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName, ParameterSetName = 'Items')][string[]] $Path = '.',
            [Parameter(Mandatory, ValueFromPipelineByPropertyName, ParameterSetName = 'LiteralItems')][Alias('PSPath', 'LP')][string[]] $LiteralPath,
            [switch] $Recurse, [switch] $File, [switch] $Directory
        )
        process {
            $paths = if ($PSCmdlet.ParameterSetName -eq 'Items') { $Path } else { $LiteralPath | ForEach-Object { [System.Management.Automation.WildcardPattern]::Escape($_) } }
            foreach ($p in $paths) {
                try {
                    $ExecutionContext.InvokeProvider.ChildItem.Get($p, [bool]$Recurse) | Where-Object {
                        (-not $File -or $_.PSIsContainer -eq $false) -and (-not $Directory -or $_.PSIsContainer -eq $true)
                    }
                }
                catch { $PSCmdlet.WriteError([System.Management.Automation.ErrorRecord]::new($_.Exception, 'PathNotFound,Microsoft.PowerShell.Commands.GetChildItemCommand', 'ObjectNotFound', $p)) }
            }
        }
    }
}

if (___Test-ShimCommandMissing 'Copy-Item') {
    function global:Copy-Item {
        [CmdletBinding()]
        param(
            [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)][string[]] $Path,
            [Parameter(Position = 1, ValueFromPipelineByPropertyName)][string] $Destination = '.',
            [switch] $Recurse, [switch] $Force, [switch] $PassThru
        )
        process {
            $out = $ExecutionContext.InvokeProvider.Item.Copy([string[]]$Path, $Destination, [bool]$Recurse, [System.Management.Automation.CopyContainers]::CopyTargetContainer, [bool]$Force, $false)
            if ($PassThru) { $out }
        }
    }
}

if (___Test-ShimCommandMissing 'New-Item') {
    function global:New-Item {
        [CmdletBinding()]
        param(
            [Parameter(Mandatory, Position = 0, ValueFromPipelineByPropertyName)][string[]] $Path,
            [Alias('Type')][string] $ItemType = 'File',
            [Parameter(ValueFromPipeline)][object] $Value,
            [switch] $Force
        )
        process { $ExecutionContext.InvokeProvider.Item.New([string[]]$Path, $null, $ItemType, $Value, [bool]$Force) }
    }
}

if (___Test-ShimCommandMissing 'Remove-Item') {
    function global:Remove-Item {
        [CmdletBinding()]
        param(
            [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)][Alias('PSPath')][string[]] $Path,
            [switch] $Recurse, [switch] $Force
        )
        process { foreach ($p in $Path) { $ExecutionContext.InvokeProvider.Item.Remove($p, [bool]$Recurse) } }
    }
}

if (___Test-ShimCommandMissing 'Set-Content') {
    function global:Set-Content {
        [CmdletBinding()]
        param(
            [Parameter(Mandatory, Position = 0)][string[]] $Path,
            [Parameter(Mandatory, Position = 1, ValueFromPipeline)][AllowNull()][AllowEmptyCollection()][AllowEmptyString()][object[]] $Value,
            [switch] $NoNewline
        )
        begin { $lines = [System.Collections.Generic.List[string]]::new() }
        process { foreach ($v in $Value) { $lines.Add([string]$v) } }
        end {
            # pwsh 7: UTF-8 without BOM, every value followed by a newline unless -NoNewline
            $text = if ($NoNewline) { $lines -join '' } else { ($lines | ForEach-Object { $_ + [Environment]::NewLine }) -join '' }
            foreach ($p in $Path) {
                $target = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($p)
                [System.IO.File]::WriteAllText($target, $text, [System.Text.UTF8Encoding]::new($false))
            }
        }
    }
}

if (___Test-ShimCommandMissing 'Get-Content') {
    function global:Get-Content {
        [CmdletBinding()]
        param(
            [Parameter(Mandatory, Position = 0, ValueFromPipelineByPropertyName)][Alias('PSPath')][string[]] $Path,
            [switch] $Raw,
            [Alias('First', 'Head')][long] $TotalCount = -1
        )
        process {
            foreach ($p in $Path) {
                foreach ($f in @(___Resolve-ShimProviderPath $p)) {
                    if ($Raw) { [System.IO.File]::ReadAllText($f); continue }
                    $n = 0
                    foreach ($line in [System.IO.File]::ReadLines($f)) {
                        if ($TotalCount -ge 0 -and $n -ge $TotalCount) { break }
                        $line
                        $n++
                    }
                }
            }
        }
    }
}

if (___Test-ShimCommandMissing 'Select-Object') {
    function global:Select-Object {
        [CmdletBinding()]
        param(
            [Parameter(ValueFromPipeline)][AllowNull()][object] $InputObject,
            [Parameter(Position = 0)][string[]] $Property,
            [string] $ExpandProperty,
            [int] $First = -1, [int] $Last = -1, [int] $Skip = 0
        )
        begin { $all = [System.Collections.Generic.List[object]]::new() }
        process { $all.Add($InputObject) }
        end {
            $items = $all.ToArray()
            if ($Skip -gt 0) { $items = if ($Skip -ge $items.Count) { @() } else { $items[$Skip..($items.Count - 1)] } }
            if ($First -ge 0) { $items = if ($First -eq 0) { @() } else { @($items)[0..([Math]::Min($First, $items.Count) - 1)] } }
            if ($Last -ge 0) { $items = if ($Last -eq 0 -or $items.Count -eq 0) { @() } else { @($items)[[Math]::Max(0, $items.Count - $Last)..($items.Count - 1)] } }
            foreach ($o in $items) {
                if ($ExpandProperty) { $o.$ExpandProperty }
                elseif ($Property) { $h = [ordered]@{}; foreach ($n in $Property) { $h[$n] = $o.$n }; [pscustomobject]$h }
                else { $o }
            }
        }
    }
}

if (___Test-ShimCommandMissing 'Sort-Object') {
    function global:Sort-Object {
        [CmdletBinding()]
        param(
            [Parameter(ValueFromPipeline)][AllowNull()][object] $InputObject,
            [Parameter(Position = 0)][string[]] $Property,
            [switch] $Descending, [switch] $CaseSensitive, [switch] $Unique
        )
        begin { $all = [System.Collections.Generic.List[object]]::new() }
        process { $all.Add($InputObject) }
        end {
            $keyed = for ($i = 0; $i -lt $all.Count; $i++) {
                $o = $all[$i]
                $key = if ($Property) { @($Property | ForEach-Object { $o.$_ }) } else { @(, $o) }
                [pscustomobject]@{ Index = $i; Key = $key; Value = $o }
            }
            $culture = [System.Globalization.CultureInfo]::CurrentCulture
            $cmp = [System.Comparison[object]] {
                param($a, $b)
                for ($k = 0; $k -lt $a.Key.Count; $k++) {
                    $c = [System.Management.Automation.LanguagePrimitives]::Compare($a.Key[$k], $b.Key[$k], -not $CaseSensitive, $culture)
                    if ($c -ne 0) { if ($Descending) { return -$c } else { return $c } }
                }
                $a.Index.CompareTo($b.Index)
            }
            $list = [System.Collections.Generic.List[object]]::new([object[]]@($keyed))
            $list.Sort($cmp)
            $seen = [System.Collections.Generic.List[object]]::new()
            foreach ($e in $list) {
                if ($Unique) {
                    $dup = $false
                    foreach ($s in $seen) { if ([System.Management.Automation.LanguagePrimitives]::Compare($s.Key[0], $e.Key[0], -not $CaseSensitive, $culture) -eq 0) { $dup = $true; break } }
                    if ($dup) { continue }
                    $seen.Add($e)
                }
                $e.Value
            }
        }
    }
}

if (___Test-ShimCommandMissing 'Push-Location') {
    function global:Push-Location {
        [CmdletBinding()]
        param([Parameter(Position = 0)][string] $Path, [string] $LiteralPath)
        $ExecutionContext.SessionState.Path.PushCurrentLocation('')
        if ($PSBoundParameters.ContainsKey('LiteralPath')) { $null = $ExecutionContext.SessionState.Path.SetLocation([System.Management.Automation.WildcardPattern]::Escape($LiteralPath)) }
        elseif ($Path) { $null = $ExecutionContext.SessionState.Path.SetLocation($Path) }
    }
}

if (___Test-ShimCommandMissing 'Pop-Location') {
    function global:Pop-Location {
        [CmdletBinding()]
        param()
        $null = $ExecutionContext.SessionState.Path.PopLocation('')
    }
}
