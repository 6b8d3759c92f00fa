using System.Globalization;
using System.Net;
using System.Text;

namespace EvoQuant.Evaluation;

/// <summary>Writes an <see cref="AccuracyReport"/> as one self-contained HTML file: inline CSS and SVG,
/// no scripts and no external resources, so it opens anywhere (mail, CI artifacts, offline). The markup
/// is also well-formed XML, so tools can parse it.</summary>
public static class HtmlReport
{
    /// <summary>How many of the worst activations get a histogram.</summary>
    public const int HistogramCount = 6;

    /// <summary>Writes the report to <paramref name="path"/> atomically: a temporary file in the same
    /// folder, then a rename over the target, so a reader never sees a half-written file.</summary>
    public static void Write(AccuracyReport report, string path)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentException.ThrowIfNullOrEmpty(path);
        EvoQuant.IO.AtomicOutput.WriteAllText(Path.GetFullPath(path), Render(report));
    }

    /// <summary>The HTML text of the report.</summary>
    public static string Render(AccuracyReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var h = new StringBuilder();
        var s = report.Summary;
        h.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>EvoQuant accuracy report</title>\n<style>\n")
         .Append(Css).Append("</style>\n</head>\n<body>\n<h1>Accuracy report</h1>\n");

        h.Append("<h2>Summary</h2>\n<table class=\"summary\">\n");
        Row(h, "Reference", s.Reference);
        Row(h, "Candidate", s.Candidate);
        Row(h, "Rows / batches", $"{s.Rows} / {s.Batches}");
        if (s.ReferenceAccuracy != null) Row(h, "Reference accuracy", Pct(s.ReferenceAccuracy));
        if (s.CandidateAccuracy != null) Row(h, "Candidate accuracy", Pct(s.CandidateAccuracy));
        if (s.AccuracyDrop != null) Row(h, "Accuracy drop", F(s.AccuracyDrop) + " points");
        if (s.Top1Agreement != null) Row(h, "Top-1 agreement", Pct(s.Top1Agreement));
        if (s.Top5Agreement != null) Row(h, "Top-5 agreement", Pct(s.Top5Agreement));
        Row(h, "Smallest output SQNR", Db(s.MinOutputSqnr));
        if (s.WorstNode != null) Row(h, "Worst node (own error)", s.WorstNode);
        if (report.Speed is { } sp) Row(h, "Speedup (candidate vs reference)", SpeedupText(sp));
        Row(h, "Elapsed", s.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture) + " s");
        h.Append("</table>\n");
        if (report.Embedding is { } em) AppendEmbedding(h, em);
        foreach (var note in report.Notes) h.Append("<p class=\"note\">").Append(E(note)).Append("</p>\n");
        if (report.Speed != null) AppendSpeed(h, report.Speed);

        h.Append("<h2>Outputs</h2>\n<table>\n<tr><th>Output</th><th>SQNR</th><th>Cosine</th><th>MSE</th><th>Max abs</th><th>Mean abs</th><th>Top-1 agree</th><th>Top-5 agree</th><th>Accuracy ref / cand</th></tr>\n");
        foreach (var o in report.Outputs)
            h.Append("<tr><td>").Append(E(o.Output)).Append("</td><td>").Append(Db(o.Sqnr)).Append("</td><td>").Append(F(o.CosineSimilarity, "F5"))
             .Append("</td><td>").Append(G(o.Mse)).Append("</td><td>").Append(G(o.MaxAbsError)).Append("</td><td>").Append(G(o.MeanAbsError))
             .Append("</td><td>").Append(Pct(o.Top1Agreement)).Append("</td><td>").Append(Pct(o.Top5Agreement))
             .Append("</td><td>").Append(o.ReferenceAccuracy == null ? "" : $"{Pct(o.ReferenceAccuracy)} / {Pct(o.CandidateAccuracy)}").Append("</td></tr>\n");
        h.Append("</table>\n");

        if (report.Suggestion.ExcludeNode.Length > 0)
        {
            h.Append("<h2>Suggestion</h2>\n<p>").Append(E(report.Suggestion.Reason)).Append("</p>\n<pre class=\"suggestion\">-ExcludeNode ")
             .Append(E(string.Join(", ", report.Suggestion.ExcludeNode.Select(n => "'" + n.Replace("'", "''", StringComparison.Ordinal) + "'")))).Append("</pre>\n");
        }

        var ordered = report.TensorsInGraphOrder.ToList();
        if (ordered.Count > 0)
        {
            h.Append("<h2>Per-tensor SQNR along the graph</h2>\n");
            AppendBarChart(h, ordered);
            AppendHistograms(h, report);
        }

        if (report.Nodes.Count > 0)
        {
            h.Append("<h2>Nodes by own error (worst first)</h2>\n<table>\n<tr><th>Node</th><th>Op</th><th>Own SQNR</th><th>Output Q/DQ SQNR</th><th>Accumulated SQNR</th><th>Own cosine</th></tr>\n");
            foreach (var n in report.Nodes)
                h.Append("<tr class=\"").Append(n.OwnSqnr < report.Suggestion.TargetSqnrDb ? "bad" : "ok").Append("\"><td>").Append(E(n.Node)).Append("</td><td>").Append(E(n.OpType))
                 .Append("</td><td>").Append(Db(n.OwnSqnr)).Append("</td><td>").Append(n.OutputQdqSqnr is double q ? Db(q) : "").Append("</td><td>")
                 .Append(n.AccumulatedSqnr is double a ? Db(a) : "").Append("</td><td>").Append(F(n.OwnCosineSimilarity, "F5")).Append("</td></tr>\n");
            h.Append("</table>\n");
        }

        if (report.Tensors.Count > 0)
        {
            h.Append("<h2>Tensors (worst first)</h2>\n<table>\n<tr><th>Tensor</th><th>Kind</th><th>Node</th><th>SQNR</th><th>Q/DQ SQNR</th><th>Log8 SQNR</th><th>Cosine</th><th>MSE</th><th>Max abs</th><th>Quantized range</th></tr>\n");
            foreach (var t in report.Tensors)
                h.Append("<tr><td>").Append(E(t.Tensor)).Append("</td><td>").Append(t.Kind).Append("</td><td>").Append(E(t.Node ?? "(input)"))
                 .Append("</td><td>").Append(Db(t.Sqnr)).Append("</td><td>").Append(t.QdqSqnr is double q ? Db(q) : "").Append("</td><td>")
                 .Append(t.LogSqnr is double l ? Db(l) : "").Append("</td><td>").Append(F(t.CosineSimilarity, "F5"))
                 .Append("</td><td>").Append(G(t.Mse)).Append("</td><td>").Append(G(t.MaxAbsError)).Append("</td><td>")
                 .Append(t.QuantRangeMin is double lo && t.QuantRangeMax is double hi ? $"[{G(lo)}, {G(hi)}]" : "").Append("</td></tr>\n");
            h.Append("</table>\n");
        }
        h.Append("</body>\n</html>\n");
        return h.ToString();
    }

    /// <summary>The pooled sentence embeddings: per-row cosines and the retrieval comparison.</summary>
    private static void AppendEmbedding(StringBuilder h, EmbeddingComparison e)
    {
        h.Append("<h2>Sentence embeddings</h2>\n<table class=\"summary embedding\">\n");
        Row(h, "Pooled output", $"{e.Output}: mean over {e.AttentionMask}, L2-normalised, {e.Hidden} wide");
        Row(h, "Cosine to float (mean / worst)", $"{F(e.MeanCosine, "F5")} / {F(e.MinCosine, "F5")} (row {e.WorstRow} of {e.Rows})");
        Row(h, "Queries x documents", $"{e.Queries} x {e.Documents}");
        if (e.SpearmanCorrelation is double rho) Row(h, "Spearman of query x document cosines", F(rho, "F5"));
        if (e.NeighbourAgreement is double nn) Row(h, "Nearest-neighbour (top-1) agreement", Pct(nn));
        h.Append("</table>\n");
    }

    /// <summary>Both models timed on this machine: the CPU and its instruction sets, the threads, and per
    /// batch size the median run time of each with its spread, the speedup and the rows per second.</summary>
    private static void AppendSpeed(StringBuilder h, SpeedReport sp)
    {
        h.Append("<h2>Speed on this machine</h2>\n<table class=\"summary speed-host\">\n");
        Row(h, "CPU", sp.Cpu.Model);
        Row(h, "Instruction sets", sp.Cpu.InstructionSetText + " (from " + sp.Cpu.InstructionSetSource + ")");
        Row(h, "Processors", $"{sp.Cpu.LogicalProcessors} logical, {sp.Cpu.PhysicalCores} physical cores ({sp.Cpu.Architecture})");
        Row(h, "ONNX Runtime threads", $"{sp.Threads} intra-op, 1 inter-op");
        h.Append("</table>\n<table class=\"speed\">\n<tr><th>Figure</th><th>Batch</th><th>Pairs</th><th>Reference median</th><th>Candidate median</th><th>Speedup</th>")
         .Append("<th>Reference rows/s</th><th>Candidate rows/s</th></tr>\n");
        var rows = ReferenceEquals(sp.Latency, sp.Throughput)
            ? new[] { ("Latency = throughput", sp.Throughput) }
            : new[] { ("Latency", sp.Latency), ("Throughput", sp.Throughput) };
        foreach (var (name, m) in rows)
            h.Append("<tr><td>").Append(name).Append("</td><td>").Append(m.BatchSize).Append("</td><td>").Append(m.Pairs)
             .Append("</td><td>").Append(E(Ms(m.Reference))).Append("</td><td>").Append(E(Ms(m.Candidate)))
             .Append("</td><td class=\"speedup\">").Append(F(m.Speedup, "F2")).Append("x</td><td>").Append(F(m.ReferenceRowsPerSecond, "F0"))
             .Append("</td><td>").Append(F(m.CandidateRowsPerSecond, "F0")).Append("</td></tr>\n");
        h.Append("</table>\n<p>Median time per run in milliseconds, with the interquartile range and the fastest and slowest run. ")
         .Append("Both models ran in the same process with the same ONNX Runtime session options, after a warm-up, in interleaved pairs ")
         .Append("(alternating which runs first); speedup = reference median / candidate median, above 1 when the candidate is faster.</p>\n");
        foreach (var note in sp.Notes) h.Append("<p class=\"note\">").Append(E(note)).Append("</p>\n");
    }

    private static string Ms(TimingStats t) =>
        string.Create(CultureInfo.InvariantCulture, $"{t.Median:G4} ms (IQR {t.Q1:G4}–{t.Q3:G4}; {t.Min:G4}–{t.Max:G4})");

    private static string SpeedupText(SpeedReport sp) => ReferenceEquals(sp.Latency, sp.Throughput)
        ? $"{F(sp.Speedup, "F2")}x at batch {sp.Throughput.BatchSize}"
        : $"{F(sp.Speedup, "F2")}x at batch {sp.Throughput.BatchSize} (throughput), {F(sp.LatencySpeedup, "F2")}x at batch {sp.Latency.BatchSize} (latency)";

    /// <summary>One bar per activation tensor, in graph order; the height is the SQNR (infinite SQNR, an
    /// exact tensor, is drawn at the top of the scale; NaN as an empty bar).</summary>
    private static void AppendBarChart(StringBuilder h, List<TensorComparison> tensors)
    {
        const double height = 220, top = 10, left = 40;
        double barWidth = Math.Clamp(900.0 / tensors.Count, 3, 24);
        double width = left + barWidth * tensors.Count + 10;
        var finite = tensors.Select(t => t.Sqnr).Where(double.IsFinite).ToList();
        double max = Math.Max(10, Math.Ceiling((finite.Count > 0 ? finite.Max() : 10) / 10) * 10);
        double min = Math.Min(0, Math.Floor((finite.Count > 0 ? finite.Min() : 0) / 10) * 10);
        double Y(double v) => top + height * (1 - (v - min) / (max - min));

        h.Append(CultureInfo.InvariantCulture, $"<svg class=\"chart\" width=\"{F(width)}\" height=\"{F(height + top + 30)}\" viewBox=\"0 0 {F(width)} {F(height + top + 30)}\" role=\"img\" aria-label=\"SQNR per tensor\">\n");
        for (double v = min; v <= max; v += 10)
            h.Append(CultureInfo.InvariantCulture, $"<line class=\"grid\" x1=\"{F(left)}\" x2=\"{F(width)}\" y1=\"{F(Y(v))}\" y2=\"{F(Y(v))}\"/><text class=\"axis\" x=\"{F(left - 4)}\" y=\"{F(Y(v) + 4)}\">{v:0}</text>\n");
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            double v = double.IsNaN(t.Sqnr) ? min : double.IsPositiveInfinity(t.Sqnr) ? max : Math.Clamp(t.Sqnr, min, max);
            double y0 = Y(Math.Max(0, min)), y1 = Y(v);
            double y = Math.Min(y0, y1), hgt = Math.Abs(y0 - y1);
            string cls = t.Sqnr < 20 ? "sqnr-bar bad" : t.Sqnr < 30 ? "sqnr-bar warn" : "sqnr-bar";
            h.Append(CultureInfo.InvariantCulture, $"<rect class=\"{cls}\" data-tensor=\"{E(t.Tensor)}\" data-sqnr=\"{Db(t.Sqnr)}\" x=\"{F(left + i * barWidth + 0.5)}\" y=\"{F(y)}\" width=\"{F(Math.Max(1, barWidth - 1))}\" height=\"{F(hgt)}\">")
             .Append("<title>").Append(E($"{t.Tensor} ({t.Node ?? "input"}): {Db(t.Sqnr)}")).Append("</title></rect>\n");
        }
        h.Append(CultureInfo.InvariantCulture, $"<text class=\"axis-l\" x=\"{F(left)}\" y=\"{F(height + top + 24)}\">graph order →  (SQNR in dB)</text>\n</svg>\n");
    }

    /// <summary>Histograms of the reference values of the worst activations, with the range the
    /// candidate's quantization represents (dashed red) and the calibrated range, when given (green).</summary>
    private static void AppendHistograms(StringBuilder h, AccuracyReport report)
    {
        var worst = report.Tensors.Where(t => t.Kind == TensorKind.Activation && report.Histograms.ContainsKey(t.Tensor)).Take(HistogramCount).ToList();
        if (worst.Count == 0) return;
        h.Append("<h2>Activation histograms of the worst tensors</h2>\n<p>Log-scale counts of the reference values; dashed red: the range the quantized model represents; green: the calibrated range.</p>\n<div class=\"hists\">\n");
        foreach (var t in worst)
        {
            var hist = report.Histograms[t.Tensor];
            if (hist.Count == 0) continue;
            const double w = 300, hh = 120;
            // The axis spans the data and the marked range, not the histogram's grown bin range.
            double lo = hist.Min, hi = hist.Max;
            if (t.QuantRangeMin is double qa && t.QuantRangeMax is double qb) { lo = Math.Min(lo, qa); hi = Math.Max(hi, qb); }
            if (t.CalibrationMin is double ca && t.CalibrationMax is double cb) { lo = Math.Min(lo, ca); hi = Math.Max(hi, cb); }
            if (!(hi > lo)) hi = lo + 1;
            double X(double v) => w * (v - lo) / (hi - lo);
            var counts = hist.GetCounts();
            double peak = Math.Log10(1 + counts.Max());
            h.Append("<figure class=\"hist\" data-tensor=\"").Append(E(t.Tensor)).Append("\"><figcaption>").Append(E(t.Tensor)).Append(" — ").Append(Db(t.Sqnr)).Append("</figcaption>\n")
             .Append(CultureInfo.InvariantCulture, $"<svg width=\"{w}\" height=\"{hh + 16}\" viewBox=\"0 0 {w} {hh + 16}\">\n");
            double binWidth = (hist.High - hist.Low) / counts.Length;
            for (int b = 0; b < counts.Length; b++)
            {
                if (counts[b] == 0) continue;
                double bh = hh * Math.Log10(1 + counts[b]) / peak; // log scale: tails stay visible
                double x0 = X(hist.Low + b * binWidth), x1 = X(hist.Low + (b + 1) * binWidth);
                h.Append(CultureInfo.InvariantCulture, $"<rect class=\"hist-bin\" x=\"{F(x0)}\" y=\"{F(hh - bh)}\" width=\"{F(Math.Max(0.5, x1 - x0))}\" height=\"{F(bh)}\"/>");
            }
            h.Append('\n');
            if (t.QuantRangeMin is double rmin && t.QuantRangeMax is double rmax)
            {
                foreach (var v in new[] { rmin, rmax })
                    h.Append(CultureInfo.InvariantCulture, $"<line class=\"range-marker\" x1=\"{F(X(v))}\" x2=\"{F(X(v))}\" y1=\"0\" y2=\"{hh}\"><title>{E($"quantized range {G(rmin)} .. {G(rmax)}")}</title></line>\n");
            }
            if (t.CalibrationMin is double cmin && t.CalibrationMax is double cmax)
            {
                foreach (var v in new[] { cmin, cmax })
                    h.Append(CultureInfo.InvariantCulture, $"<line class=\"calibration-marker\" x1=\"{F(X(v))}\" x2=\"{F(X(v))}\" y1=\"0\" y2=\"{hh}\"><title>{E($"calibrated range {G(cmin)} .. {G(cmax)}")}</title></line>\n");
            }
            h.Append(CultureInfo.InvariantCulture, $"<text class=\"axis-l\" x=\"0\" y=\"{hh + 13}\">{E(G(lo))}</text><text class=\"axis\" x=\"{w}\" y=\"{hh + 13}\">{E(G(hi))}</text>\n</svg></figure>\n");
        }
        h.Append("</div>\n");
    }

    private const string Css = """
        body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
        table { border-collapse: collapse; margin-bottom: 1.5em; font-size: 0.9em; }
        th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
        th { background: #f0f0f0; }
        tr.bad td { background: #fde8e8; }
        .summary td:first-child { font-weight: 600; }
        .sqnr-bar { fill: #3a7bd5; }
        .sqnr-bar.warn { fill: #e0a030; }
        .sqnr-bar.bad { fill: #d03c3c; }
        .grid { stroke: #e4e4e4; }
        .axis { font-size: 10px; text-anchor: end; fill: #555; }
        .axis-l { font-size: 10px; fill: #555; }
        .hists { display: flex; flex-wrap: wrap; gap: 1em; }
        .hist { margin: 0; }
        .hist figcaption { font-size: 0.8em; max-width: 300px; overflow-wrap: anywhere; }
        .hist-bin { fill: #7a9cc6; }
        .range-marker { stroke: #d03c3c; stroke-width: 2; stroke-dasharray: 4 2; }
        .calibration-marker { stroke: #2a9d4a; stroke-width: 1.5; }
        p.note { color: #8a5a00; }
        td.speedup { font-weight: 600; }
        pre.suggestion { background: #f6f6f6; padding: 0.5em; white-space: pre-wrap; }

        """;

    private static void Row(StringBuilder h, string name, string value) =>
        h.Append("<tr><td>").Append(E(name)).Append("</td><td>").Append(E(value)).Append("</td></tr>\n");

    private static string E(string s) => WebUtility.HtmlEncode(s);
    private static string F(double v, string format = "0.##") => double.IsNaN(v) ? "NaN" : v.ToString(format, CultureInfo.InvariantCulture);
    private static string F(double? v) => v is double d ? F(d, "F2") : "";
    private static string G(double v) => v.ToString("G4", CultureInfo.InvariantCulture);
    private static string Pct(double? v) => v is double d ? d.ToString("F2", CultureInfo.InvariantCulture) + " %" : "";
    private static string Db(double v) => double.IsPositiveInfinity(v) ? "inf dB" : double.IsNaN(v) ? "NaN" : v.ToString("F1", CultureInfo.InvariantCulture) + " dB";
}
