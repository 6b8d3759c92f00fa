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

    /// <summary>The markup is meant to be XML-well-formed too; parse it as such (the doctype ignored).</summary>
    internal static XDocument Parse(string html)
    {
        using var reader = XmlReader.Create(new StringReader(html), new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore });
        return XDocument.Load(reader);
    }
}
