using EvoQuant.Evaluation;

namespace EvoQuant.Tests.Evaluation;

/// <summary>A per-tensor report of the int8 Fashion CNN on 200 labelled images, built once and written
/// to a temporary HTML file for the report tests.</summary>
internal static class SampleReport
{
    private static readonly Lazy<AccuracyReport> s_report = new(() =>
    {
        var (items, labels) = FashionWorkload.TestSubset(200);
        return AccuracyComparer.Compare(FashionWorkload.Model, FashionWorkload.Int8.Model, items,
            new ComparisonOptions { PerTensor = true, Labels = labels }.WithCalibration(FashionWorkload.Table));
    });

    public static AccuracyReport Report => s_report.Value;

    /// <summary>Writes the report to a new temporary folder and returns the file path.</summary>
    public static string WriteHtml()
    {
        string dir = Path.Combine(Path.GetTempPath(), "evoquant-eval-" + Guid.NewGuid().ToString("N"));
        string path = Path.Combine(dir, "report.html");
        HtmlReport.Write(Report, path);
        return path;
    }
}
