using System.Management.Automation.Language;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>Every script we ship parses with the PowerShell 7 parser, and the Pester suites use only Pester 5
/// block syntax (the examples themselves run under pwsh in tests/Pester/Examples.Tests.ps1).</summary>
public sealed class ScriptParseTests
{
    public static IEnumerable<object[]> Scripts()
    {
        string root = TestData.RepoRoot;
        yield return new object[] { "build.ps1" };
        foreach (var dir in new[] { "tests/Pester", "examples" })
            foreach (var f in Directory.GetFiles(Path.Combine(root, dir), "*.ps1", SearchOption.AllDirectories).Order())
                yield return new object[] { Path.GetRelativePath(root, f).Replace('\\', '/') };
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public void ParsesWithoutErrors(string relative)
    {
        Parser.ParseFile(Path.Combine(TestData.RepoRoot, relative), out _, out var errors);
        Assert.True(errors.Length == 0, relative + ": " + string.Join("; ", errors.Select(e => $"{e.Extent.StartLineNumber}:{e.Extent.StartColumnNumber} {e.Message}")));
    }

    [Fact]
    public void EveryCmdletHasAPesterSuiteAndThereIsAWorkflowSuite()
    {
        string dir = Path.Combine(TestData.RepoRoot, "tests", "Pester");
        using var ps = new PowerShellSession();
        var exported = ps.Run("Get-Command -Module EvoQuant | ForEach-Object Name").Output.Select(o => o.ToString()!).ToList();
        Assert.True(exported.Count >= 4);
        foreach (var cmdlet in exported.Append("Workflow"))
            Assert.True(File.Exists(Path.Combine(dir, cmdlet + ".Tests.ps1")), cmdlet + ".Tests.ps1 is missing");
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public void PesterSuitesUsePester5Structure(string relative)
    {
        if (!relative.EndsWith(".Tests.ps1", StringComparison.Ordinal)) return;
        var ast = Parser.ParseFile(Path.Combine(TestData.RepoRoot, relative), out _, out _);
        var commands = ast.FindAll(a => a is CommandAst, true).Cast<CommandAst>().ToList();
        var names = commands.Select(c => c.GetCommandName()).Where(n => n != null).ToHashSet(StringComparer.OrdinalIgnoreCase);
        Assert.Contains("Describe", names);
        Assert.Contains("It", names);
        Assert.Contains("BeforeAll", names);
        // Pester 4 habits that Pester 5 rejects or runs at discovery time.
        Assert.DoesNotContain("Assert-MockCalled", names);
        Assert.DoesNotContain("Assert-VerifiableMock", names);
        foreach (var should in commands.Where(c => c.GetCommandName() == "Should"))
        {
            var first = should.CommandElements.Skip(1).FirstOrDefault();
            Assert.True(first is CommandParameterAst, $"{relative}:{should.Extent.StartLineNumber}: Should needs a -Operator (Pester 5): {should.Extent.Text}");
        }
        // Work at the top level of the file runs at discovery, not in the run: only BeforeAll/Describe/param/#requires there.
        var top = ast.EndBlock.Statements.OfType<PipelineAst>().SelectMany(p => p.PipelineElements.OfType<CommandAst>()).Select(c => c.GetCommandName());
        Assert.All(top, n => Assert.Contains(n, new[] { "BeforeAll", "Describe", "BeforeDiscovery", "AfterAll" }));
    }
}
