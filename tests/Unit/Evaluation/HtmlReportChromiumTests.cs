using Xunit;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace EvoQuant.Tests.Evaluation;

/// <summary>Renders the HTML report in headless Chromium and checks the page loads with one bar per
/// tensor in its DOM. Chromium is required: without it this test fails (it never skips).</summary>
[Trait("Category", "TestData")]
public class HtmlReportChromiumTests
{
    private static string? FindChromium()
    {
        foreach (var candidate in new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" })
            if (File.Exists(candidate)) return candidate;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
            foreach (var name in new[] { "chromium", "chromium-browser" })
                if (dir.Length > 0 && File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        return null;
    }

    [Fact]
    public async Task PageLoadsInChromiumWithOneBarPerTensor()
    {
        string chromium = FindChromium()
            ?? throw new Xunit.Sdk.XunitException("Chromium is not installed, so the HTML report cannot be rendered: install chromium (apt-get install -y chromium).");
        string path = SampleReport.WriteHtml();
        string profile = Path.Combine(Path.GetDirectoryName(path)!, "profile");
        try
        {
            var psi = new ProcessStartInfo(chromium)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                         "--no-first-run", $"--user-data-dir={profile}", "--dump-dom", new Uri(path).AbsoluteUri })
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(120_000))
            {
                p.Kill(entireProcessTree: true);
                Assert.Fail("Chromium did not finish within 120 s.");
            }
            string dom = await stdout;
            string err = await stderr;
            Assert.True(p.ExitCode == 0 && dom.Length > 0, $"Chromium exit code {p.ExitCode}; stderr: {err}");

            Assert.Contains("<title>EvoQuant accuracy report</title>", dom);
            int bars = Regex.Matches(dom, "<rect class=\"sqnr-bar[^\"]*\" data-tensor=").Count;
            Assert.Equal(SampleReport.Report.TensorsInGraphOrder.Count(), bars);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }
}
