namespace EvoQuant.Calibration;

/// <summary>Where a <see cref="GridHistogram"/>'s bins lie, as ONNX Runtime's calibrators widen theirs.
/// The first batch with a value other than 0 (the width batch) sets the width 2^<see cref="Exponent"/>: the
/// smallest power of two that keeps that batch within R bins of 0 (a batch cut into sub-batches sets it as
/// the whole batch would: while it lasts the width only doubles). A later batch that reaches further adds
/// bins of the same width, so the first batch's resolution is kept; only past <c>maxBins</c> bins a side
/// does the width double (pairs of bins merge, exactly), which bounds memory whatever the outliers.</summary>
/// <param name="Exponent">log2 of the bin width; null while every value seen was 0.</param>
/// <param name="WidthBatch">The batch (1-based, as BatchCount counts them) that set the width.</param>
internal readonly record struct GridShape(int? Exponent, long WidthBatch)
{
    public static GridShape Empty => default;

    /// <summary>The shape once values up to <paramref name="maxAbs"/> (over everything seen, this batch
    /// included) are counted in batch number <paramref name="batch"/>.</summary>
    public GridShape After(double maxAbs, long batch, int binsPerSide, int maxBins)
    {
        if (maxAbs == 0) return this;
        if (Exponent is not int e || batch == WidthBatch)
        {
            // Until the width batch ends, every earlier value was 0: maxAbs is that batch's.
            return new GridShape(RequiredExponent(maxAbs, binsPerSide), batch);
        }
        int needed = RequiredExponent(maxAbs, maxBins);
        return needed <= e ? this : Coarsened(needed - e);
    }

    /// <summary>The same shape 2^<paramref name="shift"/> times wider.</summary>
    public GridShape Coarsened(int shift) =>
        shift <= 0 || Exponent is not int e ? this : new GridShape(e + shift, WidthBatch);

    /// <summary>Smallest e with maxAbs &lt; bins * 2^e, i.e. with <see cref="Extent"/> at most bins. Exact: the
    /// quotient of a float by an int cannot round across a power of two unless it is one.</summary>
    public static int RequiredExponent(double maxAbs, int bins) => Math.ILogB(maxAbs / bins) + 1;

    /// <summary>Bins a side that values up to maxAbs reach at width 2^e: floor(maxAbs / 2^e) + 1.</summary>
    public static int Extent(double maxAbs, int e) => (int)Math.Min(Math.Floor(Math.ScaleB(maxAbs, -e)) + 1, int.MaxValue);
}
