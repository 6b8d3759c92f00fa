using System.Diagnostics;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>pwsh knows nothing of ONNX Runtime. This test runs the module in tools/EvoQuant.Host, a
/// process that references only the PowerShell engine (not EvoQuant, not ORT), so the module must
/// find its own native onnxruntime under runtimes/&lt;rid&gt;/native. The in-process tests cannot see that
/// bug: their host references ORT and resolves it through its deps.json.</summary>
public class HostWithoutOnnxRuntimeTests
{
    private static string HostDll =>
        Path.Combine(TestData.RepoRoot, "tools", "EvoQuant.Host", "bin",
            new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name, "net10.0", "EvoQuant.Host.dll");

    [Fact]
    public void TheHostDoesNotReferenceOnnxRuntime()
    {
        string deps = Path.ChangeExtension(TestData.Require(HostDll), ".deps.json");
        Assert.DoesNotContain("OnnxRuntime", File.ReadAllText(deps), StringComparison.OrdinalIgnoreCase);
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(HostDll)!, "Microsoft.ML.OnnxRuntime.dll")));
    }

    [Fact]
    public void CalibrationRunsOnnxRuntimeInsideAHostThatKnowsNothingOfIt()
    {
        string script = "$t = Measure-Calibration -Model $env:EQ_MODEL -InputPath $env:EQ_CALIB -BatchSize 50; 'TENSORS=' + $t.Count; 'SAMPLES=' + $t.SampleCount";
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(TestData.Require(HostDll));
        psi.ArgumentList.Add("-Command");
        psi.ArgumentList.Add(script);
        psi.Environment["EQ_MODEL"] = TestData.Require(TestData.FashionCnn);
        psi.Environment["EQ_CALIB"] = TestData.Require(TestData.FashionCalib);
        psi.Environment["EVOQUANT_MODULE"] = PowerShellSession.ManifestPath;
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(3)), "host did not finish");
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}\n{stdout}\n{stderr}");
        Assert.Contains("SAMPLES=200", stdout);
        Assert.Matches(@"TENSORS=\d{2,}", stdout);
    }
}
