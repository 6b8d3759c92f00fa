namespace EvoQuant.Targets;

/// <summary>How 8-bit weights avoid the 16-bit pair sums of x86 kernels without VNNI.</summary>
public enum SaturationGuard
{
    /// <summary>Full 8-bit weights: right where products are summed in 32 bits (VNNI, Arm64).</summary>
    None,
    /// <summary>Each scale widened just enough that no adjacent pair of products can saturate.</summary>
    PairSafe,
    /// <summary>7-bit weights everywhere (the reference tool's reduce_range).</summary>
    ReduceRange,
}
