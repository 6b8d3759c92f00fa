namespace EvoQuant.Calibration;

/// <summary>Final touches every method applies to a chosen range.</summary>
internal static class RangeRules
{
    /// <summary>Symmetric ranges become ±max(|lo|, |hi|).</summary>
    public static (float Lo, float Hi) Finish(float lo, float hi, bool symmetric)
    {
        if (!symmetric) return (lo, hi);
        float m = Math.Max(Math.Abs(lo), Math.Abs(hi));
        return (-m, m);
    }
}
