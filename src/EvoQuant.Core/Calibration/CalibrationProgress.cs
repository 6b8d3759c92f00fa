namespace EvoQuant.Calibration;

/// <summary>Progress of a calibration run, reported after each batch. Samples are rows along the batch axis.</summary>
public sealed record CalibrationProgress(long SamplesDone, long? TotalSamples, long BatchesDone, int Errors, TimeSpan Elapsed, string? CurrentSource)
{
    public double SamplesPerSecond => Elapsed.TotalSeconds > 0 ? SamplesDone / Elapsed.TotalSeconds : 0;

    /// <summary>Percent done, or -1 when the total is unknown.</summary>
    public int PercentComplete => TotalSamples is long t && t > 0 ? (int)Math.Min(100, SamplesDone * 100 / t) : -1;
}
