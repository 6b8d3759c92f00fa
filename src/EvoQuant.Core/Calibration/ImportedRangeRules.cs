namespace EvoQuant.Calibration;

/// <summary>What a range read from a file must satisfy before it is used: finite ends, RangeMin &lt;= RangeMax,
/// and a finite width (a ±3e38 range has an infinite width, hence an infinite scale). A table file edited by
/// hand or damaged is refused at import, as the same ranges given as a hashtable are refused by the options.</summary>
internal static class ImportedRangeRules
{
    /// <summary>Why the range cannot be used, or null when it can.</summary>
    public static string? Problem(float rangeMin, float rangeMax)
    {
        if (!float.IsFinite(rangeMin) || !float.IsFinite(rangeMax)) return $"its range [{rangeMin}, {rangeMax}] is not finite";
        if (rangeMin > rangeMax) return $"its range [{rangeMin}, {rangeMax}] has RangeMin > RangeMax";
        if (!float.IsFinite(rangeMax - rangeMin)) return $"its range [{rangeMin}, {rangeMax}] is too wide to quantize (its width overflows float32)";
        return null;
    }

    /// <summary>Throws FormatException naming the first tensor whose range cannot be used.</summary>
    public static void Check(IEnumerable<TensorRange> ranges, string where)
    {
        foreach (var r in ranges)
            if (Problem(r.RangeMin, r.RangeMax) is string p)
                throw new FormatException($"{where}: tensor '{r.Tensor}' cannot be used: {p}. Calibrate again, or correct the file.");
    }
}
