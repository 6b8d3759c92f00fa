using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Management.Automation.Runspaces;
using System.Reflection;
using System.Text;
using EvoQuant.Tests.Support;
using Microsoft.PowerShell.Commands.Internal.Format;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>The Pester 5 suites of tests/Pester, run here (no pwsh, no Pester on this machine) through
/// PesterShim/PesterShim.ps1 in a fresh hosted engine per file: every It must pass. The shim checks the suites'
/// logic and expectations against the real built module, not Pester itself (see the top of the shim).</summary>
public sealed class PesterSuiteTests
{
    public static IEnumerable<object[]> Suites() =>
        Directory.GetFiles(Path.Combine(TestData.RepoRoot, "tests", "Pester"), "*.Tests.ps1")
            .Select(Path.GetFileName).Order(StringComparer.Ordinal).Select(f => new object[] { f! });

    [Theory]
    [MemberData(nameof(Suites))]
    public void SuitePasses(string file)
    {
        TestData.Require(TestData.ModuleDir);
        TestData.Require(TestData.FashionCnn);
        string path = Path.Combine(TestData.RepoRoot, "tests", "Pester", file);
        var results = PesterShimRunner.Run(path);
        // Every It of the file ran (an It with -TestCases runs once per case, so at least once).
        var ast = Parser.ParseFile(path, out _, out _);
        int its = ast.FindAll(a => a is CommandAst c && c.GetCommandName() == "It", true).Count();
        Assert.True(results.Count >= its && its > 0, $"{file}: {its} Its in the file, {results.Count} results");
        var failed = results.Where(r => r.Result != "Passed").ToList();
        Assert.True(failed.Count == 0,
            $"{file}: {failed.Count} of {results.Count} Its did not pass:\n\n" +
            string.Join("\n\n", failed.Select(f => $"[{f.Result}] {f.Path}\n    {f.Message?.Replace("\n", "\n    ")}")));
    }

    [Fact]
    public void ShimReportsAFailingItAndScopesLikePester5()
    {
        string dir = Directory.CreateTempSubdirectory("pester-shim-self").FullName;
        try
        {
            string file = Path.Combine(dir, "Self.Tests.ps1");
            File.WriteAllText(file, """
                #requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
                BeforeAll { $top = 'top'; $script:fromScript = 2 }
                Describe 'self' {
                    $discoveryOnly = 'not seen in Its'
                    BeforeAll { $inner = $top + '-inner' }
                    It 'passes' {
                        $inner | Should -Be 'top-inner'
                        $fromScript | Should -Be 2
                        $discoveryOnly | Should -BeNullOrEmpty
                        1, 2, 3 | Should -HaveCount 3
                        { throw [System.IO.IOException]'x' } | Should -Throw -ExceptionType ([System.IO.IOException])
                        Test-Path $TestDrive -PathType Container | Should -BeTrue
                    }
                    It 'fails on purpose' { 1 + 1 | Should -Be 3 }
                    It 'checks the error id with -like, as Pester 5 does' {
                        { Get-Command -Name NoSuchCommand -ErrorAction Stop } | Should -Throw -ErrorId 'CommandNotFoundException'
                    }
                    It 'runs <Value> with test cases' -TestCases @(@{ Value = 4 }) { $Value | Should -BeGreaterThan 3 }
                    Context 'writes to TestDrive' {
                        It 'keeps what it writes until the block ends' {
                            Set-Content -Path (Join-Path $TestDrive 'a.txt') -Value 'a'
                            $item = Get-ChildItem (Join-Path $TestDrive '*.txt')
                            $item.PSPath | Should -BeLike 'Microsoft.PowerShell.Core\FileSystem::*a.txt'
                            (Resolve-Path (Join-Path $TestDrive 'a.txt')).Path | Should -Be (Join-Path $TestDrive 'a.txt')
                            Join-Path 'x' 'y' 'z' | Should -Be ([System.IO.Path]::Combine('x', 'y', 'z'))
                            Get-Content (Join-Path $TestDrive 'a.txt') | Should -Be 'a'
                        }
                    }
                    Context 'after that block' {
                        It 'no longer sees its files' { Test-Path (Join-Path $TestDrive 'a.txt') | Should -BeFalse }
                    }
                    Context 'a failing BeforeAll' {
                        BeforeAll { throw 'setup broke' }
                        It 'fails the Its of its block' { }
                    }
                }
                """);
            var results = PesterShimRunner.Run(file);
            Assert.Equal(new[] { "self > passes", "self > fails on purpose", "self > checks the error id with -like, as Pester 5 does", "self > runs 4 with test cases",
                    "self > writes to TestDrive > keeps what it writes until the block ends", "self > after that block > no longer sees its files",
                    "self > a failing BeforeAll > fails the Its of its block" },
                results.Select(r => r.Path));
            Assert.True(results[0].Result == "Passed", results[0].Message);
            Assert.Equal("Failed", results[1].Result);
            Assert.Contains("Expected 3", results[1].Message);
            Assert.Equal("Failed", results[2].Result); // the id is 'CommandNotFoundException,Microsoft.PowerShell.Commands.GetCommandCommand'
            Assert.Contains("FullyQualifiedErrorId", results[2].Message);
            Assert.True(results[3].Result == "Passed", results[3].Message);
            Assert.True(results[4].Result == "Passed", results[4].Message);
            Assert.True(results[5].Result == "Passed", results[5].Message);
            Assert.Equal("Failed", results[6].Result);
            Assert.Contains("setup broke", results[6].Message);
        }
        finally { Directory.Delete(dir, true); }
    }
}

public sealed record PesterShimResult(string Path, string Result, string? Message);

/// <summary>Runs one .Tests.ps1 file through the shim in a fresh runspace of the hosted engine.</summary>
public static class PesterShimRunner
{
    public static string ShimPath => Path.Combine(TestData.RepoRoot, "tests", "Unit", "PowerShell", "PesterShim", "PesterShim.ps1");

    public static IReadOnlyList<PesterShimResult> Run(string testFile)
    {
        var iss = InitialSessionState.CreateDefault2();
        // pwsh's Utility module is not in the NuGet engine: these three are thin cmdlets over the engine's own formatter.
        iss.Commands.Add(new SessionStateCmdletEntry("Format-Table", typeof(FormatTableShimCommand), null));
        iss.Commands.Add(new SessionStateCmdletEntry("Format-List", typeof(FormatListShimCommand), null));
        iss.Commands.Add(new SessionStateCmdletEntry("Out-String", typeof(OutStringShimCommand), null));
        using var runspace = RunspaceFactory.CreateRunspace(iss);
        runspace.Open();
        string standIn = WritePesterStandIn();
        try
        {
            using var ps = System.Management.Automation.PowerShell.Create(runspace);
            // A module named Pester 5.x, so that the suites' `#requires -Modules Pester 5` holds; the commands are the shim's.
            ps.AddScript("Import-Module $args[0] -ErrorAction Stop; . $args[1]; Invoke-PesterShim $args[2]")
                .AddArgument(Path.Combine(standIn, "Pester.psd1")).AddArgument(ShimPath).AddArgument(testFile);
            var output = ps.Invoke();
            if (ps.HadErrors && output.Count == 0)
                throw new InvalidOperationException("The shim failed: " + string.Join("\n", ps.Streams.Error));
            return output.Select(o => new PesterShimResult(
                (string)o.Properties["Path"].Value, (string)o.Properties["Result"].Value, o.Properties["Message"].Value as string)).ToList();
        }
        finally { Directory.Delete(standIn, true); }
    }

    private static string WritePesterStandIn()
    {
        string dir = Directory.CreateTempSubdirectory("pester-standin").FullName;
        File.WriteAllText(Path.Combine(dir, "Pester.psm1"), "# Stand-in: the commands come from PesterShim.ps1\n");
        File.WriteAllText(Path.Combine(dir, "Pester.psd1"),
            "@{ RootModule = 'Pester.psm1'; ModuleVersion = '5.99.0'; GUID = 'a699dea5-2c73-4616-a270-1f7abb777e71'; Description = 'PesterShim stand-in'; FunctionsToExport = @() }\n");
        return dir;
    }
}

/// <summary>Reaches the engine's internal formatter (what pwsh's Microsoft.PowerShell.Commands.Utility does).</summary>
internal static class FormatterInternals
{
    private const BindingFlags Any = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
    private static readonly Assembly Sma = typeof(PSObject).Assembly;

    public static Type Internal(string name) => Sma.GetType("Microsoft.PowerShell.Commands.Internal.Format." + name, throwOnError: true)!;

    public static object Create(string type, params object[] args) =>
        Activator.CreateInstance(Internal(type), Any, null, args, CultureInfo.InvariantCulture)!;

    public static void SetImplementation(FrontEndCommandBase command, object implementation) =>
        typeof(FrontEndCommandBase).GetField("implementation", Any)!.SetValue(command, implementation);

    public static object Shape(string shape) => Create("InnerFormatShapeCommand", Enum.Parse(Internal("FormatShape"), shape));

    public static void SetProperty(object target, string name, object value) => target.GetType().GetProperty(name, Any)!.SetValue(target, value);
}

[Cmdlet(VerbsCommon.Format, "Table")]
public sealed class FormatTableShimCommand : OuterFormatTableBase
{
    public FormatTableShimCommand() => FormatterInternals.SetImplementation(this, FormatterInternals.Shape("Table"));
}

[Cmdlet(VerbsCommon.Format, "List")]
public sealed class FormatListShimCommand : OuterFormatTableAndListBase
{
    public FormatListShimCommand() => FormatterInternals.SetImplementation(this, FormatterInternals.Shape("List"));
}

[Cmdlet(VerbsData.Out, "String")]
[OutputType(typeof(string))]
public sealed class OutStringShimCommand : FrontEndCommandBase
{
    private readonly object _inner;
    private readonly StringBuilder _buffer = new();
    private TextWriter? _writer;

    public OutStringShimCommand()
    {
        _inner = FormatterInternals.Create("OutputManagerInner");
        FormatterInternals.SetImplementation(this, _inner);
    }

    [Parameter]
    [ValidateRange(2, int.MaxValue)]
    public int Width { get; set; }

    [Parameter]
    public SwitchParameter Stream { get; set; }

    protected override void BeginProcessing()
    {
        var writerType = FormatterInternals.Internal("StreamingTextWriter");
        var callbackType = writerType.GetNestedType("WriteLineCallback", BindingFlags.Public | BindingFlags.NonPublic)!;
        var callback = Delegate.CreateDelegate(callbackType, this,
            typeof(OutStringShimCommand).GetMethod(nameof(OnWriteLine), BindingFlags.Instance | BindingFlags.NonPublic)!);
        _writer = (TextWriter)FormatterInternals.Create("StreamingTextWriter", callback, Host.CurrentCulture);
        int width = Width > 0 ? Width : int.MaxValue;
        var lineOutputType = FormatterInternals.Internal("TextWriterLineOutput");
        var ctor = lineOutputType.GetConstructors(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .OrderBy(c => c.GetParameters().Length).First(c => c.GetParameters().Length >= 2 && c.GetParameters()[1].ParameterType == typeof(int));
        var args = new object[ctor.GetParameters().Length];
        args[0] = _writer;
        args[1] = width;
        for (int i = 2; i < args.Length; i++) args[i] = false;
        FormatterInternals.SetProperty(_inner, "LineOutput", ctor.Invoke(args));
        base.BeginProcessing();
    }

    private void OnWriteLine(string s)
    {
        if (Stream) WriteObject(s);
        else _buffer.AppendLine(s);
    }

    protected override void ProcessRecord()
    {
        base.ProcessRecord();
        _writer!.Flush();
    }

    protected override void EndProcessing()
    {
        base.EndProcessing();
        _writer!.Flush();
        _writer.Dispose();
        if (!Stream) WriteObject(_buffer.ToString());
    }
}
