namespace EvoQuant.Calibration;

/// <summary>A histogram as stored in a calibration table: bins of width 2^<see cref="WidthExponent"/>
/// on a grid anchored at 0; <see cref="Counts"/>[j] counts values in [(FirstBin + j) * w, (FirstBin + j + 1) * w).
/// Absolute histograms count |x|. <see cref="BinsPerSide"/> is the grid's nominal size (the first batch's reach), needed to merge exactly.</summary>
public sealed record HistogramData(bool Absolute, int BinsPerSide, int? WidthExponent, int FirstBin, long[] Counts)
{

    /// <summary>Bin width (0 while every value seen was 0).</summary>
    public double BinWidth => WidthExponent is int e ? Math.ScaleB(1.0, e) : 0;

    /// <summary>Counts.Length + 1 bin edges.</summary>
    public double[] GetEdges()
    {
        var edges = new double[Counts.Length + 1];
        for (int j = 0; j < edges.Length; j++) edges[j] = (FirstBin + j) * BinWidth;
        return edges;
    }

    public long Total => Counts.Sum();
}
