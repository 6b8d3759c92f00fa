using EvoQuant.Targets;
using Xunit;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;
using EvoQuant.Evaluation;

namespace EvoQuant.Tests.Evaluation;

/// <summary>The HTML report is one well-formed, self-contained file with one bar per activation tensor.</summary>
public class HtmlReportTests
{
    [Fact]
    public void ReportIsSelfContainedWellFormedAndHasOneBarPerTensor()
    {
        string path = SampleReport.WriteHtml();
        try
        {
            string html = File.ReadAllText(path);
            Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!)); // no temporary file left behind

            Assert.DoesNotMatch(new Regex("https?://", RegexOptions.IgnoreCase), html);
            Assert.DoesNotMatch(new Regex(@"<script|<link|<iframe|<img|@import|url\(", RegexOptions.IgnoreCase), html);

            var doc = Parse(html);
            var rects = doc.Descendants().Where(e => e.Name.LocalName == "rect").ToList();
            var bars = rects.Where(e => ((string?)e.Attribute("class") ?? "").Split(' ').Contains("sqnr-bar")).ToList();
            var expected = SampleReport.Report.TensorsInGraphOrder.Select(t => t.Tensor).ToList();
            Assert.True(expected.Count > 15, $"only {expected.Count} activations compared");
            Assert.Equal(expected, bars.Select(b => (string)b.Attribute("data-tensor")!).ToList());

            // Histograms of the worst tensors, each with the quantized range marked.
            var figures = doc.Descendants().Where(e => e.Name.LocalName == "figure").ToList();
            Assert.Equal(HtmlReport.HistogramCount, figures.Count);
            Assert.All(figures, f => Assert.Equal(2, f.Descendants().Count(e => (string?)e.Attribute("class") == "range-marker")));
            Assert.All(figures, f => Assert.Equal(2, f.Descendants().Count(e => (string?)e.Attribute("class") == "calibration-marker")));
            Assert.Contains("Accuracy drop", html);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public void WritingReplacesAnExistingFile()
    {
        string path = SampleReport.WriteHtml();
        try
        {
            File.WriteAllText(path, "old");
            HtmlReport.Write(SampleReport.Report, path);
            Assert.StartsWith("<!DOCTYPE html>", File.ReadAllText(path));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public void TheSpeedSectionNamesTheCpuItsInstructionSetsAndTheSpeedups()
    {
        static TimingStats Ms(double median) => new() { Count = 9, Median = median, Min = median * 0.9, Max = median * 1.5, Q1 = median * 0.95, Q3 = median * 1.1 };
        var speed = new SpeedReport
        {
            Cpu = new HostCpu
            {
                Model = "Test CPU <9000> & Co", Architecture = "X64", LogicalProcessors = 4, PhysicalCores = 2,
                InstructionSets = new[] { "AVX2", "AVX-512 VNNI" }, InstructionSetSource = "/proc/cpuinfo",
            },
            Threads = 2,
            Latency = new SpeedMeasurement { BatchSize = 1, Pairs = 9, Reference = Ms(0.5), Candidate = Ms(0.4) },
            Throughput = new SpeedMeasurement { BatchSize = 64, Pairs = 9, Reference = Ms(8), Candidate = Ms(5) },
            Notes = new[] { "a note" },
        };
        string html = HtmlReport.Render(SampleReport.Report.WithSpeed(speed));
        var doc = Parse(html); // still well-formed, the CPU name escaped
        string text = string.Concat(doc.Descendants().Where(e => !e.HasElements).Select(e => e.Value + "\n"));
        Assert.Contains("Speed on this machine", text);
        Assert.Contains("Test CPU <9000> & Co", text);
        Assert.Contains("AVX2, AVX-512 VNNI", text);
        Assert.Contains("2 intra-op", text);
        Assert.Contains("1.60x at batch 64 (throughput), 1.25x at batch 1 (latency)", text); // summary row: 8/5, 0.5/0.4
        var speedups = doc.Descendants().Where(e => (string?)e.Attribute("class") == "speedup").Select(e => e.Value).ToList();
        Assert.Equal(new[] { "1.25x", "1.60x" }, speedups);
        Assert.Contains("a note", text);

        Assert.DoesNotContain("Speed on this machine", HtmlReport.Render(SampleReport.Report.WithSpeed(null)));
    }

    /// <summary>The markup is meant to be XML-well-formed too; parse it as such (the doctype ignored).</summary>
    internal static XDocument Parse(string html)
    {
        using var reader = XmlReader.Create(new StringReader(html), new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore });
        return XDocument.Load(reader);
    }
}
