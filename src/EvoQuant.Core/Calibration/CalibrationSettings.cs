namespace EvoQuant.Calibration;

/// <summary>What decides the ranges of a calibration table: the method and its parameters. Tables merge
/// only when their settings are equal.</summary>
public sealed record CalibrationSettings
{
    public CalibrationMethod Method { get; init; } = CalibrationMethod.MinMax;

    /// <summary>Entropy: bins over [-t, t]; Percentile: bins over [0, t], t the first batch's max |x|. The first
    /// batch spans between Bins/2 and Bins of them a side (their width is a power of two, so histograms coarsen
    /// and merge exactly); later batches add bins of that width (see GridShape).</summary>
    public int Bins { get; init; }

    /// <summary>Entropy: bins of the quantized distribution Q (128 as the reference tool).</summary>
    public int QuantizedBins { get; init; } = 128;

    /// <summary>Percentile of |x| kept (default 99.999).</summary>
    public double Percentile { get; init; } = 99.999;

    /// <summary>Make every range symmetric around 0 (±max(|min|, |max|)).</summary>
    public bool Symmetric { get; init; }

    /// <summary>MinMax: average the per-batch minimum and maximum instead of taking the extremes.</summary>
    public bool MovingAverage { get; init; }

    /// <summary>EQ and Auto: sample rows kept for EQ's scale search or Auto's output check (the first ones; the
    /// other samples only set the ranges they start from). Memory of the search is these rows and one layer's
    /// outputs over them; of the check, these rows and one run's model outputs. Null: <see cref="DefaultSearchRows"/> (null, so other methods' tables do not carry it).</summary>
    public int? SearchRows { get; init; }

    public const int DefaultSearchRows = 64;

    /// <summary>EQ: the method whose ranges the search starts from (and that tensors it does not search keep);
    /// null: MinMax, as in the paper. Entropy, Percentile or Auto at their default settings.</summary>
    public CalibrationMethod? SearchBase { get; init; }

    /// <summary>EQ's base in effect.</summary>
    public CalibrationMethod EffectiveSearchBase => SearchBase ?? CalibrationMethod.MinMax;

    /// <summary>EQ: the settings of its base calibration.</summary>
    internal CalibrationSettings BaseSettings => this with { Method = EffectiveSearchBase, SearchRows = null, SearchBase = null };

    /// <summary>EQ's rows in effect.</summary>
    public int EffectiveSearchRows => SearchRows ?? DefaultSearchRows;

    /// <summary>Bins in effect: the given value, or the default of the method (Entropy 128, Percentile 2048).</summary>
    public int EffectiveBins => Bins > 0 ? Bins : Method == CalibrationMethod.Percentile ? 2048 : 128;

    /// <summary>Throws <see cref="ArgumentException"/> when a parameter is out of range.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Method)) throw new ArgumentException($"Unknown calibration method {Method}.");
        if (Bins < 0 || Bins > 1 << 20) throw new ArgumentException($"Bins must be between 2 and {1 << 20}; got {Bins}.");
        if (Bins is 1) throw new ArgumentException("Bins must be at least 2.");
        if (QuantizedBins < 2 || QuantizedBins > 1 << 16) throw new ArgumentException($"QuantizedBins must be between 2 and 65536; got {QuantizedBins}.");
        if (!(Percentile > 0 && Percentile <= 100)) throw new ArgumentException($"Percentile must be in (0, 100]; got {Percentile}.");
        if (Method == CalibrationMethod.Auto && Bins != 0) throw new ArgumentException("Auto compares the methods at their default bins; Bins cannot be set.");
        if (Method == CalibrationMethod.EQ && Bins != 0) throw new ArgumentException("EQ starts from MinMax ranges; Bins cannot be set.");
        if (SearchRows is < 1 or > 1 << 16) throw new ArgumentException($"SearchRows must be between 1 and 65536; got {SearchRows}.");
        if (SearchBase is CalibrationMethod b && (Method != CalibrationMethod.EQ || b == CalibrationMethod.EQ || !Enum.IsDefined(b)))
            throw new ArgumentException($"SearchBase applies to EQ only and names another method; got {b} with {Method}.");
        if (MovingAverage && Method != CalibrationMethod.MinMax) throw new ArgumentException("MovingAverage applies to the MinMax method only.");
    }
}
