namespace EvoQuant.Calibration;

/// <summary>How many histogram bins a calibration can afford: the bytes Entropy and Percentile plan for
/// their histograms at a bin count, and the most bins (at most those asked for, never fewer than the
/// method's default, so default tables do not change) whose plan fits the memory budget
/// (<see cref="CalibrationOptions.MaxHistogramBytes"/>). A histogram's memory grows with its bins, not
/// with the samples: -Bins 1048576 on a model of 34 tensors planned gigabytes.</summary>
/// <remarks>The plan is an upper bound over what the histogram code allocates, per bin slot (8 bytes, a
/// long count; <see cref="GridHistogram.MaxBinsFor"/> slots a side, the most a histogram grows to):
/// per tensor, its histogram while counting (twice the bins for a tensor whose clamped followers take
/// their histograms from it), the copy ranges are computed from, and the counts the table keeps; per
/// worker (<see cref="Workers"/> at a time), the scratch counts of one update or, when ranges are computed,
/// the count copies and the Entropy search's prefix sums and rows (<see cref="EntropyThreshold.Search"/>:
/// about 30 slots' worth per bin).</remarks>
public sealed record HistogramMemoryPlan(int RequestedBins, int Bins, int Tensors, long PlannedBytes, long BudgetBytes)
{
    /// <summary>Slots (of 8 bytes) per histogram slot a tensor holds at most: 2 while counting, 1 copy, 1 kept in the table.</summary>
    internal const int SlotsPerTensor = 4;

    /// <summary>Slots per histogram slot one worker holds at most: two count copies, the search's prefix sums
    /// (68 bytes a bin) and its rows (12 doubles a position, up to 1.5 positions a bin).</summary>
    internal const int SlotsPerWorker = 30;

    /// <summary>Threads that update histograms or search thresholds at once.</summary>
    public static int Workers => Environment.ProcessorCount;

    /// <summary>Whether the budget made the bins fewer than asked.</summary>
    public bool Reduced => Bins < RequestedBins;

    /// <summary>The plan for <paramref name="settings"/> over <paramref name="tensors"/> tensors: the settings'
    /// bins when they fit, else the most that do (Entropy and Percentile given bins above their default only).</summary>
    public static HistogramMemoryPlan For(CalibrationSettings settings, int tensors, long budgetBytes)
    {
        ArgumentNullException.ThrowIfNull(settings);
        int requested = settings.EffectiveBins;
        if (settings.Method is not (CalibrationMethod.Entropy or CalibrationMethod.Percentile))
            return new(requested, requested, tensors, 0, budgetBytes);
        int floor = (settings with { Bins = 0 }).EffectiveBins;
        int bins = requested;
        if (requested > floor && Bytes(settings.Method, requested, tensors) > budgetBytes)
        {
            // The plan grows with the bins: the largest count in [floor, requested) that fits, or the floor.
            int lo = floor, hi = requested - 1;
            while (lo < hi)
            {
                int mid = lo + (hi - lo + 1) / 2;
                if (Bytes(settings.Method, mid, tensors) <= budgetBytes) lo = mid;
                else hi = mid - 1;
            }
            bins = lo;
        }
        return new(requested, bins, tensors, Bytes(settings.Method, bins, tensors), budgetBytes);
    }

    /// <summary>The settings with the plan's bins (unchanged when nothing was reduced).</summary>
    public CalibrationSettings Apply(CalibrationSettings settings) => Reduced ? settings with { Bins = Bins } : settings;

    /// <summary>Planned bytes of <paramref name="tensors"/> histograms of <paramref name="bins"/> bins.</summary>
    public static long Bytes(CalibrationMethod method, int bins, int tensors)
    {
        // Entropy counts x over R = bins a side of 0; Percentile |x| over R = 2 * bins (see the calibrators).
        bool absolute = method == CalibrationMethod.Percentile;
        long perSide = GridHistogram.MaxBinsFor(absolute ? 2 * bins : bins);
        long slots = absolute ? perSide : 2 * perSide;
        return sizeof(long) * slots * ((long)SlotsPerTensor * tensors + (long)SlotsPerWorker * Workers);
    }
}
