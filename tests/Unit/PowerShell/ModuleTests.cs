using System.Management.Automation;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>The built module folder is a valid, importable PowerShell module.</summary>
public sealed class ModuleTests : IDisposable
{
    private readonly PowerShellSession _ps = new();

    public void Dispose() => _ps.Dispose();

    [Fact]
    public void TestModuleManifestPasses()
    {
        var r = _ps.Run("Test-ModuleManifest -Path $args[0]", PowerShellSession.ManifestPath);
        Assert.Empty(r.Errors);
        var info = (PSModuleInfo)Assert.Single(r.Output).BaseObject;
        Assert.Equal("EvoQuant", info.Name);
        Assert.Equal(new Version(0, 1, 0), info.Version);
        Assert.False(string.IsNullOrWhiteSpace(info.Description));
        Assert.Contains("Core", info.CompatiblePSEditions);
    }

    [Fact]
    public void ExportsExactlyTheWorkflowCmdlets()
    {
        var names = _ps.Run("Get-Command -Module EvoQuant | ForEach-Object Name").Output.Select(o => o.ToString()).OrderBy(n => n).ToArray();
        Assert.Equal(new[] { "Compare-QuantAccuracy", "ConvertTo-TokenSample", "Export-CalibrationTable", "Get-OnnxGraph", "Import-CalibrationTable", "Invoke-Quantization", "Measure-Calibration", "Optimize-OnnxGraph" }, names);
        // Approved verbs only (Import-Module would warn otherwise).
        var verbs = _ps.Run("Get-Command -Module EvoQuant | ForEach-Object Verb").Output.Select(o => o.ToString());
        var approved = new[] { typeof(VerbsCommon), typeof(VerbsData), typeof(VerbsLifecycle), typeof(VerbsDiagnostic),
                typeof(VerbsCommunications), typeof(VerbsSecurity), typeof(VerbsOther) }
            .SelectMany(t => t.GetFields()).Select(f => (string)f.GetValue(null)!).ToHashSet();
        Assert.All(verbs, v => Assert.Contains(v, approved));
    }
}
